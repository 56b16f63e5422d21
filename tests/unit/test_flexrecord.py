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


def test_write_by_is_half_the_grace_and_too_late_after_it() -> None:
    """The model write must start within half the grace, so it completes well before the record's time."""
    assert flexrecord.write_by(AT, 300) == "2026-12-01T19:02:30Z"
    assert flexrecord.write_by(AT, 0) is None  # no window: no limit either
    assert not flexrecord.too_late("2026-12-01T19:02:30Z", datetime(2026, 12, 1, 19, 2, 30, tzinfo=UTC))
    assert flexrecord.too_late("2026-12-01T19:02:30Z", datetime(2026, 12, 1, 19, 2, 31, tzinfo=UTC))
    assert not flexrecord.too_late(None, datetime(2100, 1, 1, tzinfo=UTC))


def test_executor_replans_a_model_write_started_too_late() -> None:
    """A Flexible model write whose plan is older than its write_by is not written: StaleChange re-plans it (a
    fresh read and record). Other writes, and model writes without a limit, go on."""
    import pytest

    from poolkeeper.changes import SetScaleSetModelPool, WriteBatch
    from poolkeeper.executor import _check_write_by
    from poolkeeper.mutations import StaleChange

    def batch(write_by: str | None) -> WriteBatch:
        c = SetScaleSetModelPool(scale_set_id="/s/flex", nic_config="n", ip_config="i", pool_id="/p", binding="web",
                                 reason="r", flex_record="2026-12-01T19:05:00Z;web", write_by=write_by)
        return WriteBatch(stage=c.stage, target_kind=c.target_kind, resource_id=c.scale_set_id, changes=(c,))

    now = datetime(2026, 12, 1, 19, 3, tzinfo=UTC)
    with pytest.raises(StaleChange, match="re-planning"):
        _check_write_by(batch("2026-12-01T19:02:30Z"), now)
    _check_write_by(batch("2026-12-01T19:04:00Z"), now)
    _check_write_by(batch(None), now)
