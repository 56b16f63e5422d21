"""Structured logs: one JSON object per line, carrying the ARM correlation id of the run that wrote it.

Azure Functions forwards stdout/stderr and ``logging`` to Application Insights; JSON lines keep every field
queryable there (``customDimensions``) and greppable locally.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

_STANDARD = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
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


def configure(level: str = "INFO", stream: Any = None) -> None:
    """Send poolkeeper's logs as JSON lines to ``stream`` (stderr by default). Idempotent."""
    root = logging.getLogger("poolkeeper")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_poolkeeper", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._poolkeeper = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.propagate = False
