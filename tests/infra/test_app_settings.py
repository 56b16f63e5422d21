"""App settings agree across local.settings.sample.json, the Bicep, docs/deploy.md and the code's defaults."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from poolkeeper.settings import DEFAULT_SCHEDULES, EVENTS_QUEUE_VAR, SERVICEBUS_CONNECTION
from tests.infra.bicep_model import app_settings

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.infra

LOCAL_ONLY = {"FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage", "POOLKEEPER_OPERATIONS_DIR"}


def sample() -> dict[str, str]:
    return json.loads((ROOT / "local.settings.sample.json").read_text())["Values"]


def bicep_settings() -> dict[str, str]:
    text = (ROOT / "infra" / "modules" / "app.bicep").read_text()
    return dict(re.findall(r"name: '([A-Za-z_]+)'\s*\n\s*value: '([^']*)'", text))


def test_every_sample_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text()
    missing = [k for k in sample() if k not in LOCAL_ONLY and f"`{k}`" not in doc]
    assert not missing, f"not in docs/deploy.md: {missing}"


def test_schedules_have_one_default_everywhere() -> None:
    values, bicep = sample(), bicep_settings()
    for name, default in DEFAULT_SCHEDULES.items():
        assert values[name] == default
        assert bicep[name] == default


def test_timer_bindings_read_the_schedule_settings() -> None:
    handlers = (ROOT / "handlers" / "timers.py").read_text() + (ROOT / "handlers" / "workflows.py").read_text()
    for name in DEFAULT_SCHEDULES:
        assert f'schedule="%{name}%"' in handlers


def test_host_json_keeps_the_requests_table() -> None:
    host = json.loads((ROOT / "host.json").read_text())
    levels = host.get("logging", {}).get("logLevel", {})
    assert levels.get("Host.Results", "Information") not in ("Error", "Critical", "None")


def _queue_trigger() -> dict[str, object]:
    """The Service Bus trigger binding handlers/queue.py declares, as the Functions host indexes it."""
    from handlers import queue

    (builder,) = queue.bp._function_builders
    (binding,) = [b.get_dict_repr() for b in builder.build().get_bindings() if b.type == "serviceBusTrigger"]
    return binding


def test_service_bus_settings_are_the_names_the_trigger_reads() -> None:
    """In serviceBus mode the Bicep sets exactly the queue setting and the identity-based connection the trigger uses.

    The binding's ``queueName`` is ``%SETTING%`` and its ``connection`` a prefix that the Functions host completes
    with ``__fullyQualifiedNamespace`` (Microsoft Learn, Azure Service Bus bindings for Azure Functions, identity-based
    connections); function_app registers the trigger only when ``settings.events_queue()`` reads a value.
    """
    binding = _queue_trigger()
    assert binding["queueName"] == f"%{EVENTS_QUEUE_VAR}%"
    assert binding["connection"] == SERVICEBUS_CONNECTION
    assert binding["isSessionsEnabled"] is True  # the queue requires sessions (modules/servicebus.bicep)
    bicep = app_settings("serviceBus")
    assert EVENTS_QUEUE_VAR in bicep
    connection = {name for name in bicep if name.startswith(f"{SERVICEBUS_CONNECTION}__")}
    assert connection == {f"{SERVICEBUS_CONNECTION}__fullyQualifiedNamespace", f"{SERVICEBUS_CONNECTION}__credential",
                          f"{SERVICEBUS_CONNECTION}__clientId"}
    assert not {EVENTS_QUEUE_VAR, *connection} & set(app_settings("direct"))
