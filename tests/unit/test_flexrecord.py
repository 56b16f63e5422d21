"""The flex-wired record (``poolkeeper.flexwired`` on a Flexible scale set): format, limits, ARM times. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from poolkeeper import flexrecord
from poolkeeper.flexrecord import FlexRecord

AT = datetime(2026, 12, 1, 19, 0, 0, 123456, tzinfo=UTC)


def test_encode_adds_the_grace_in_utc_and_decode_reads_it_back() -> None:
    value = flexrecord.encode("web", AT.astimezone(timezone(timedelta(hours=2))), 300)
    assert value == "2026-12-01T19:05:00Z;web"
    assert flexrecord.decode({"POOLKEEPER.FLEXWIRED": value}) == FlexRecord("web", datetime(2026, 12, 1, 19, 5,
                                                                                          tzinfo=UTC))


def test_a_value_over_256_characters_is_not_written() -> None:
    assert flexrecord.encode("b" * 235, AT, 0) is not None
    assert flexrecord.encode("b" * 236, AT, 0) is None


def test_unreadable_records_count_as_none() -> None:
    for value in ("", "2026-12-01T19:05:00Z", "2026-12-01T19:05:00Z;", "yesterday;web", ";web"):
        assert flexrecord.decode({"poolkeeper.flexwired": value}) is None, value
    assert flexrecord.decode(None) is None and flexrecord.decode({"other": "x"}) is None


def test_arm_times() -> None:
    """Azure's 7 fractional digits with an offset, armsim's ``Z``, a naive time taken as UTC; junk is None."""
    assert flexrecord.parse_time("2021-06-03T13:45:21.3306456+00:00") == datetime(2021, 6, 3, 13, 45, 21, 330645,
                                                                                  tzinfo=UTC)
    assert flexrecord.parse_time("2026-12-01T19:05:00.5Z") == datetime(2026, 12, 1, 19, 5, 0, 500000, tzinfo=UTC)
    assert flexrecord.parse_time("2026-12-01T21:05:00+02:00") == datetime(2026, 12, 1, 19, 5, tzinfo=UTC)
    assert flexrecord.parse_time("2026-12-01T21:05:00.1234567+02:00") == datetime(2026, 12, 1, 19, 5, 0, 123456,
                                                                                  tzinfo=UTC)
    assert flexrecord.parse_time("2026-12-01T19:05:00") == datetime(2026, 12, 1, 19, 5, tzinfo=UTC)
    assert flexrecord.parse_time("not a time") is None and flexrecord.parse_time(None) is None


def test_created_wired_only_strictly_after_the_record_of_that_binding() -> None:
    record = FlexRecord("web", AT)
    assert flexrecord.created_wired(record, "web", AT + timedelta(seconds=1))
    assert not flexrecord.created_wired(record, "web", AT)
    assert not flexrecord.created_wired(record, "other", AT + timedelta(hours=1))
    assert not flexrecord.created_wired(record, "web", None) and not flexrecord.created_wired(None, "web", AT)
