"""The process-wide reconciler the handlers share, built once from the app settings.

Invalid configuration fails here, at the first invocation, with a message naming the field (the Functions host
then shows it in the function's logs); nothing is changed in Azure. Logging: only a level is set (the Functions
worker's root handler forwards the records); with APPLICATIONINSIGHTS_CONNECTION_STRING, OpenTelemetry too.
"""

from __future__ import annotations

import os
import threading

from poolkeeper.logs import configure
from poolkeeper.reconciler import Reconciler
from poolkeeper.settings import load_settings
from poolkeeper.telemetry import configure_telemetry

_lock = threading.Lock()
_reconciler: Reconciler | None = None


def reconciler() -> Reconciler:
    global _reconciler
    with _lock:
        if _reconciler is None:
            configure(os.environ.get("POOLKEEPER_LOG_LEVEL") or "INFO")
            configure_telemetry()
            _reconciler = Reconciler(load_settings())
        return _reconciler


def reset() -> None:
    """Forget the reconciler (tests and the local host reload configuration this way)."""
    global _reconciler
    with _lock:
        if _reconciler is not None:
            _reconciler.close()
        _reconciler = None
