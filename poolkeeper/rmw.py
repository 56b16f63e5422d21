"""Read-modify-write under ETags: the one way poolkeeper changes a whole resource.

A PUT replaces the resource, so a write must start from the resource as it is now, carry every field back, and be
conditional on the ETag that was read (If-Match): if anyone changed it in between, ARM answers 412 and nothing of
theirs is lost. Edits that change nothing make no write at all, which keeps re-runs idempotent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Raw = dict[str, Any]


class ResourceGone(Exception):
    """The resource to change no longer exists."""


def read_modify_write(
    resource_id: str,
    read: Callable[[str], Raw | None],
    edit: Callable[[Raw], Raw],
    write: Callable[[str, Raw, str | None], Raw | None],
    *,
    before_write: Callable[[], None] | None = None,
) -> bool:
    """Read, edit the fresh body, and write it under If-Match unless nothing changed. True if it wrote."""
    fresh = read(resource_id)
    if fresh is None:
        raise ResourceGone(f"{resource_id} no longer exists")
    wanted = edit(fresh)
    if wanted == fresh:
        return False
    if before_write is not None:
        before_write()
    write(resource_id, wanted, fresh.get("etag"))
    return True
