"""Which Flexible scale-set members were created wired by the model poolkeeper wrote: the flex-wired record. Pure.

When poolkeeper puts a binding's pool into a Flexible scale set's model (``SetScaleSetModelPool``), Azure creates
every later member's NIC in the pool: no poolkeeper write touches it, so it carries no poolkeeper tag. Without more
state, a person taking such a NIC out of the pool (``az network nic ip-config address-pool remove``, to patch it)
would look "never wired" to :mod:`poolkeeper.maintenance`, and the next run would put it back — fighting the person.

So **the same scale-set PUT** that adds the pool records, in the scale-set tag ``poolkeeper.flexwired``, the binding
and a UTC time ``T``: a member VM whose ``properties.timeCreated`` is later than ``T`` was created from a model with
the pool, i.e. in the pool. If its NIC is out of the pool now, someone took it out.

``T`` is the time poolkeeper read Azure for the plan (:attr:`poolkeeper.model.Snapshot.read_at`) plus a grace
(``flexibleWiredGraceSeconds``, default 300 s), not the time of the write itself, because:

* a member whose creation started before the model write completed was created from the old model (no pool) —
  a scale-out accepted just before the write, a write that waits for pacing, retries or its long-running operation;
* ``timeCreated`` is Azure's clock, ``read_at`` the host's; the grace absorbs their skew.

The write must start within half the grace (:func:`write_by`; the executor re-plans it otherwise), so the record
never claims members created from the old model by a late write. Inside the window poolkeeper errs towards
joining: a member created then and taken out by a person is put back (as before this record existed); after it, it
is held and reported (``RemovedByPerson``, PK013). A member without ``timeCreated`` is joined.

Format: ``poolkeeper.flexwired`` = ``<T as YYYY-MM-DDTHH:MM:SSZ>;<binding>``. A tag value holds at most 256
characters (Learn, "Use tags to organize your Azure resources", limitations): a binding name too long for that gets
no record (its members are joined as before). Tag names are case-insensitive. A model re-wired after someone removed
the pool gets a fresh record, so members created while the model had no pool are joined.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

FLEXWIRED_TAG = "poolkeeper.flexwired"
TAG_VALUE_MAX = 256
DEFAULT_GRACE_S = 300
_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class FlexRecord:
    binding: str
    wired_after: datetime  # members created later than this were created in the binding's pool


def encode(binding: str, read_at: datetime, grace_s: int) -> str | None:
    """The tag value for a model write planned on a snapshot read at ``read_at``; None if it does not fit."""
    at = (read_at.astimezone(UTC) + timedelta(seconds=grace_s)).replace(microsecond=0)
    value = f"{at.strftime(_FORMAT)};{binding}"
    return value if len(value) <= TAG_VALUE_MAX else None


def write_by(read_at: datetime, grace_s: int) -> str | None:
    """The latest start of the model write whose record says ``read_at + grace_s`` (None: no limit, grace 0).

    The record claims that members created after its time were created from the model *with* the pool. That holds
    only if the write completes well before that time; a plan applied late (a long run, throttling) would make
    members created meanwhile from the old model look wired — and their NICs, never wired, would be held. So the
    executor re-plans (a fresh read, a fresh record) instead of starting the write after half the grace.
    """
    if grace_s <= 0:
        return None
    return (read_at.astimezone(UTC) + timedelta(seconds=grace_s / 2)).replace(microsecond=0).strftime(_FORMAT)


def too_late(write_by_value: str | None, now: datetime) -> bool:
    """Whether a model write planned with this ``write_by`` must not start at ``now`` (it is re-planned)."""
    limit = parse_time(write_by_value)
    return limit is not None and now.astimezone(UTC) > limit


def decode(tags: Mapping[str, str] | None) -> FlexRecord | None:
    """The record in a scale set's tags (any casing of the name), or None (absent or unreadable)."""
    value = next((v for k, v in (tags or {}).items() if k.lower() == FLEXWIRED_TAG), None)
    if not value:
        return None
    when, sep, binding = str(value).partition(";")
    at = parse_time(when)
    return FlexRecord(binding, at) if sep and binding and at is not None else None


def with_record(tags: Mapping[str, str] | None, value: str) -> dict[str, str]:
    """``tags`` with the record set to ``value`` (any other casing of its name dropped); other tags kept."""
    out = {k: v for k, v in (tags or {}).items() if k.lower() != FLEXWIRED_TAG}
    out[FLEXWIRED_TAG] = value
    return out


def parse_time(value: object) -> datetime | None:
    """An ARM date-time (``2026-12-01T19:05:03.1234567+00:00``, ``…Z``) as aware UTC; a time without an offset is
    UTC. Python 3.11's ``datetime.fromisoformat`` reads ARM's 7 fractional digits (keeping 6) and ``Z``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def created_wired(record: FlexRecord | None, binding: str, time_created: datetime | None) -> bool:
    """A member created after the record of ``binding``'s model write: Azure created its NIC in the pool."""
    return (record is not None and record.binding == binding and time_created is not None
            and time_created > record.wired_after)
