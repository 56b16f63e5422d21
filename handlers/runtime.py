"""The process-wide parts the handlers share (reconciler, workflows), built once by the composition root.

Invalid configuration fails here, at the first invocation, with a message naming the field (the Functions host
then shows it in the function's logs); nothing is changed in Azure. Logging: only a level is set (the Functions
worker's root handler forwards the records); with APPLICATIONINSIGHTS_CONNECTION_STRING, OpenTelemetry too.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported at first use (below): indexing the app needs none of them (cold start, bench/storm.py)
    from poolkeeper.composition import App
    from poolkeeper.reconciler import Reconciler
    from poolkeeper.workflows.operations import Workflows

_lock = threading.Lock()
_app: App | None = None


def app() -> App:
    """The process's parts, built from the app settings on first use."""
    global _app
    with _lock:
        if _app is None:
            from poolkeeper.composition import build
            from poolkeeper.logs import configure
            from poolkeeper.settings import Settings
            from poolkeeper.telemetry import configure_telemetry

            settings = Settings.from_env()
            configure(settings.log_level or "INFO")
            configure_telemetry()
            _app = build(settings)
        return _app


def reconciler() -> Reconciler:
    return app().require_reconciler()


def workflows() -> Workflows:
    """The workflows service, sharing the reconciler's SDK clients and limited to its scopes."""
    return app().workflows


def reset() -> None:
    """Forget everything built (tests and the local host reload configuration this way)."""
    global _app
    with _lock:
        if _app is not None:
            _app.close()
        _app = None
