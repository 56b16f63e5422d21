"""Which scale-set instances poolkeeper's own model change made out of date: the upgrade record.

poolkeeper may run ``manualUpgrade`` only on instances that are out of date *because of its own* model change
(a backend pool added by a binding). An instance out of date for another reason — someone changed the image, the
size, an extension — is someone else's rollout, never poolkeeper's. ``latestModelApplied`` cannot tell the two
apart, so poolkeeper writes down which instances it is about to make stale **in the same scale-set PUT** that
changes the model: a tag on the scale set holding the ids of the instances that were on the latest model just
before the write. The record survives a crash between the model write and the upgrade (the next run finds the tag
and finishes the job) and is cleared, id by id, once those instances are upgraded or gone.

Format: ``poolkeeper.upgrade`` = compact ranges (``0-4,7,9-12``). A tag value holds at most 256 characters (Learn,
"Use tags to organize your Azure resources", limitations), so a long record continues in ``poolkeeper.upgrade.1``,
``poolkeeper.upgrade.2``, ...; instance ids that are not numbers are listed as they are.

Writing or clearing the record changes only the scale set's tags, not ``virtualMachineProfile``, so it does not
itself make instances out of date (UNCONFIRMED for Azure by a public source; armsim compares the profile and SKU).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

UPGRADE_TAG = "poolkeeper.upgrade"
TAG_VALUE_MAX = 256


def _sort_key(instance_id: str) -> tuple[int, int, str]:
    return (0, int(instance_id), "") if instance_id.isdigit() else (1, 0, instance_id)


def _is_record_key(key: str) -> bool:
    k = key.lower()
    return k == UPGRADE_TAG or (k.startswith(UPGRADE_TAG + ".") and k[len(UPGRADE_TAG) + 1:].isdigit())


def encode(instance_ids: Iterable[str]) -> list[str]:
    """Instance ids as compact ranges, split into tag values of at most 256 characters."""
    ids = sorted(set(instance_ids), key=_sort_key)
    parts: list[str] = []
    i = 0
    while i < len(ids):
        if not ids[i].isdigit():
            parts.append(ids[i])
            i += 1
            continue
        j = i
        while j + 1 < len(ids) and ids[j + 1].isdigit() and int(ids[j + 1]) == int(ids[j]) + 1:
            j += 1
        parts.append(ids[i] if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    values: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current},{part}" if current else part
        if len(candidate) > TAG_VALUE_MAX and current:
            values.append(current)
            current = part
        else:
            current = candidate
    if current:
        values.append(current)
    return values


def decode(tags: Mapping[str, str] | None) -> set[str]:
    """The instance ids recorded in a scale set's tags (tag names are case-insensitive; bad parts are skipped)."""
    out: set[str] = set()
    for key, value in (tags or {}).items():
        if not _is_record_key(key):
            continue
        for part in str(value or "").split(","):
            part = part.strip()
            if not part:
                continue
            lo, sep, hi = part.partition("-")
            if sep and lo.isdigit() and hi.isdigit() and int(lo) <= int(hi) and int(hi) - int(lo) < 100_000:
                out.update(str(n) for n in range(int(lo), int(hi) + 1))
            elif not sep or not (lo.isdigit() and hi.isdigit()):
                out.add(part)
    return out


def with_record(tags: Mapping[str, str] | None, instance_ids: Iterable[str]) -> dict[str, str]:
    """``tags`` with the record replaced by ``instance_ids`` (no record tags at all when empty); others kept."""
    out = {k: v for k, v in (tags or {}).items() if not _is_record_key(k)}
    for n, value in enumerate(encode(instance_ids)):
        out[UPGRADE_TAG if n == 0 else f"{UPGRADE_TAG}.{n}"] = value
    return out
