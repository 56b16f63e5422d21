"""Polling until a condition holds: the one wait loop of the demo, the end-to-end tests and the webhook receiver.

Eventually-consistent by design (Event Grid delivers seconds later, long-running operations finish later), so
whoever drives armsim from outside polls. Imports nothing of the simulator (``armsim/__init__.py`` is lazy).
"""

from __future__ import annotations

import time
from collections.abc import Callable


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0, *, interval: float = 0.05) -> bool:
    """True as soon as ``predicate()`` is; after ``timeout`` seconds, whatever one last call says."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()
