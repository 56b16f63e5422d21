"""Application Insights through OpenTelemetry, when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set.

``azure-monitor-opentelemetry`` (Microsoft's distro) exports poolkeeper's logs (``poolkeeper.*``, with their
``extra`` fields as customDimensions), the Azure SDK's traces (one dependency per ARM call) and these metrics:

- ``poolkeeper.arm.calls`` {op: the SDK operation, status}: every ARM attempt; status ``ok`` or the HTTP
  status of a failure (so 412 lost ETag races, 409 busy and 429 throttling are visible);
- ``poolkeeper.writes``: resources written by reconciles;
- ``poolkeeper.refusals`` {code}: changes ARM refused, and reports the planner made instead of writing.

The metrics are derived from the log records the gateway and reconciler already write (``arm call``,
``arm call failed``, ``reconciled``, ``planned``) by :class:`MetricsHandler`, so the counting stays next to the
logging and the core needs no telemetry code. Without a connection string nothing is configured (the API's no-op
meter), e.g. in the CLI, tests and the demo.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from poolkeeper.settings import Settings

if TYPE_CHECKING:  # opentelemetry is imported where metrics are installed, not at the app's cold start
    from opentelemetry import metrics

_lock = threading.Lock()
_configured = False


class MetricsHandler(logging.Handler):
    """Turns poolkeeper's structured log records into OpenTelemetry counters."""

    def __init__(self, meter: metrics.Meter | None = None) -> None:
        super().__init__(level=logging.DEBUG)
        if meter is None:
            from opentelemetry import metrics

            meter = metrics.get_meter("poolkeeper")
        self.arm_calls = meter.create_counter("poolkeeper.arm.calls", unit="{call}",
                                              description="ARM requests by operation and outcome")
        self.writes = meter.create_counter("poolkeeper.writes", unit="{resource}",
                                           description="resources written by reconciles")
        self.refusals = meter.create_counter("poolkeeper.refusals", unit="{change}",
                                             description="changes ARM refused or the planner reported")

    def emit(self, record: logging.LogRecord) -> None:
        fields: dict[str, Any] = record.__dict__
        message = record.msg
        if message == "arm call":
            self.arm_calls.add(1, {"op": str(fields.get("op", "")), "status": "ok"})
        elif message == "arm call failed":
            self.arm_calls.add(1, {"op": str(fields.get("op", "")), "status": str(fields.get("status", ""))})
        elif message == "reconciled":
            self.writes.add(int(fields.get("writes", 0)))
            if fields.get("failed"):
                self.refusals.add(int(fields["failed"]), {"code": "refused-by-arm"})
        elif message == "planned" and fields.get("reports"):
            self.refusals.add(int(fields["reports"]), {"code": "planner-report"})


def install_metrics(meter: metrics.Meter | None = None) -> MetricsHandler:
    """Attach a :class:`MetricsHandler` to the ``poolkeeper`` logger (once per meter)."""
    handler = MetricsHandler(meter)
    logging.getLogger("poolkeeper").addHandler(handler)
    return handler


def _entra_credential(settings: Settings) -> dict[str, Any]:
    """The managed identity that authenticates ingestion when the resource refuses local auth (infra sets
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING to ``ClientId=<id>;Authorization=AAD``)."""
    parts = dict(p.split("=", 1) for p in settings.appinsights_authentication_string.split(";") if "=" in p)
    if parts.get("Authorization", "").upper() != "AAD":
        return {}
    from azure.identity import ManagedIdentityCredential

    return {"credential": ManagedIdentityCredential(client_id=parts.get("ClientId") or None)}


def configure_telemetry(environ: Mapping[str, str] | None = None) -> bool:
    """Configure Azure Monitor if a connection string is set; True when it is (idempotent)."""
    global _configured
    settings = Settings.from_env(environ)
    if not settings.appinsights_connection_string:
        return False
    with _lock:
        if not _configured:
            from azure.monitor.opentelemetry import configure_azure_monitor

            # logger_name: only poolkeeper's records; the Functions host already sends its own and the worker's.
            configure_azure_monitor(connection_string=settings.appinsights_connection_string,
                                    logger_name="poolkeeper", **_entra_credential(settings))
            install_metrics()
            _configured = True
    return True
