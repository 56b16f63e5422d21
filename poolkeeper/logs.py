"""Logging through the standard ``logging`` hierarchy, every line carrying the run's correlation id.

In Azure Functions the Python worker installs its own handler on the root logger and forwards every record it sees
to the host and Application Insights; poolkeeper's loggers (``poolkeeper.*``) therefore only set a level and
propagate — no handler of their own, which the worker would treat as console output. Fields passed as ``extra``
(``correlation_id``, ``changes``, ``writes``…) stay record attributes: azure-monitor-opentelemetry exports them as
``customDimensions`` (poolkeeper/telemetry.py). The CLI and the local host add one console handler that prints
JSON lines on stderr (``configure(console=True)``).
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, msg and every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(out, default=str)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(f"poolkeeper.{name}")


def parse_level(level: str) -> int:
    """A level name (any case) as a number; a wrong name is a ValueError that lists the right ones."""
    name = (level or "").strip().upper()
    if name not in LEVELS:
        raise ValueError(f"log level {level!r} is not one of {', '.join(LEVELS)}")
    return logging.getLevelNamesMapping()[name]


def configure(level: str = "INFO", stream: Any = None, *, console: bool | None = None) -> None:
    """Set poolkeeper's log level; ``console=True`` also prints its records as JSON lines on ``stream`` (stderr),
    ``False`` removes that handler, ``None`` (the Functions handlers' call) leaves it as the entry point set it.

    Idempotent. Records always propagate to the root logger, where the Functions worker (or pytest's caplog, or
    OpenTelemetry's handler) picks them up.
    """
    root = logging.getLogger("poolkeeper")
    root.setLevel(parse_level(level))
    root.propagate = True
    if console is None:
        return
    for handler in list(root.handlers):
        if getattr(handler, "_poolkeeper", False):
            root.removeHandler(handler)
    if console:
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._poolkeeper = True  # type: ignore[attr-defined]
        root.addHandler(handler)
