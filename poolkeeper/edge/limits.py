"""Body size caps and the one JSON reader of the edge: bounded size, bounded nesting, no duplicate keys, no NaN.

Every body is read here, before any handler sees it, so that a body that cannot be read is refused (400/413) and
never becomes "everything" (issue 9: an unread chunked body was once taken for ``{}``).
"""

from __future__ import annotations

import json
from typing import Any

MAX_BODY_BYTES = 64 * 1024  # an /api/* request body; the largest valid request is a few kilobytes
# Event Grid delivers events of up to 1 MB, batched up to 1 MB ("Event size: 1 MB", "preferredBatchSizeInKilobytes"
# up to 1024): https://learn.microsoft.com/azure/event-grid/quotas-limits and .../delivery-properties
MAX_WEBHOOK_BYTES = 1024 * 1024 + 64 * 1024
MAX_DEPTH = 32  # JSON nesting; our requests nest 2 deep, ARM events about 6


class BodyError(ValueError):
    """The body cannot be used; ``status`` is 400 or 413 and the message says what to send instead."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def check_size(length: int, limit: int) -> None:
    if length > limit:
        raise BodyError(413, f"the body is {length} bytes, over the {limit}-byte limit; nothing was done")


def nesting_depth(raw: bytes) -> int:
    """Deepest ``[``/``{`` nesting outside strings, found without building anything (so no RecursionError)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"the key {key[:80]!r} is given twice")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes, *, limit: int = MAX_BODY_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw``; raises :class:`BodyError` (413 too large, 400 otherwise) naming the problem."""
    check_size(len(raw), limit)
    if not raw.strip():
        raise BodyError(400, "the body is empty")
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise BodyError(400, f"the JSON is nested {depth} levels deep, over the limit of {max_depth}")
    try:
        value = json.loads(raw, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except RecursionError:  # the depth check should make this unreachable; never a 500 either way
        raise BodyError(400, f"the JSON is nested too deeply (limit {max_depth})") from None
    except ValueError as err:  # includes UnicodeDecodeError and over-long integers
        raise BodyError(400, f"the body is not valid JSON ({str(err)[:200]})") from None
    _check_text(value)
    return value


def _check_text(value: Any) -> None:
    """Refuse lone surrogates (``"\\ud800"``): valid JSON, but no valid resource name and unencodable in a URL."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise BodyError(400, "a string in the body is not valid Unicode (lone surrogate escape)") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
