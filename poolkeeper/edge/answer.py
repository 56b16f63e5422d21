"""``HttpAnswer``: what every HTTP route answers (status, JSON body, headers), whatever served it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

ERROR_LIMIT = 4000  # characters of an error message; input echoed inside it is shortened long before


@dataclass
class HttpAnswer:
    """One HTTP answer. The body is JSON (``None`` for no body)."""

    status: int
    body: Any
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"  # text/html: ``body`` is the page (GET /api/report/latest?html=true)

    def json_bytes(self) -> bytes:
        if self.body is None:
            return b""
        if self.content_type != "application/json" and isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body, indent=2, default=str).encode()


def shorten(value: Any, limit: int = 120) -> str:
    """``repr(value)`` cut to ``limit`` characters: how input is echoed in messages (never megabytes of it)."""
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit} more characters)"


def error(status: int, message: str, **extra: Any) -> HttpAnswer:
    """The error shape of every route: ``{"error": message, ...extra}``; the message is capped."""
    if len(message) > ERROR_LIMIT:
        message = f"{message[:ERROR_LIMIT]}… ({len(message) - ERROR_LIMIT} more characters)"
    return HttpAnswer(status, {"error": message, **extra})
