"""The upgrade record: which instances poolkeeper's own model write made stale, kept in scale-set tags."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from poolkeeper.upgraderecord import TAG_VALUE_MAX, UPGRADE_TAG, decode, with_record


def test_compact_ranges_and_other_tags_kept() -> None:
    tags = with_record({"env": "prod"}, ["0", "1", "2", "3", "4", "7", "9", "10"])
    assert tags == {"env": "prod", UPGRADE_TAG: "0-4,7,9-10"}
    assert decode(tags) == {"0", "1", "2", "3", "4", "7", "9", "10"}
    assert with_record(tags, []) == {"env": "prod"}
    assert decode({"Poolkeeper.Upgrade": "3"}) == {"3"}  # tag names are case-insensitive


def test_long_records_continue_in_numbered_tags() -> None:
    ids = [str(n) for n in range(0, 4000, 2)]  # 2,000 single ids: no ranges
    tags = with_record({}, ids)
    assert len(tags) > 1 and all(len(v) <= TAG_VALUE_MAX for v in tags.values())
    assert decode(tags) == set(ids)
    assert with_record(tags, ["1"]) == {UPGRADE_TAG: "1"}  # continuation tags are replaced too


@given(st.sets(st.integers(min_value=0, max_value=5000).map(str), max_size=300))
def test_round_trip(ids: set[str]) -> None:
    tags = with_record({"a": "b"}, ids)
    assert decode(tags) == ids and tags["a"] == "b"
    assert all(len(v) <= TAG_VALUE_MAX for v in tags.values())
