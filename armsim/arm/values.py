"""The values the engine's concerns pass between them: a response, a long-running operation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (fault injection)


@dataclass
class Operation:
    id: str
    namespace: str
    location: str
    kind: str  # put | delete | action
    resource_id: str | None
    due: float
    started: str
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    on_complete: Callable[[], None] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    # the final body of an action (e.g. queryInboundNatRulePortMapping), answered by the Location poll once done;
    # None keeps the old answer (200 without a body)
    result: Any = None
