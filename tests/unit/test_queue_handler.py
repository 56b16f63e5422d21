"""The Service Bus consumer's pure part: a message body as Event Grid writes it (the event's JSON) is the event."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from handlers.queue import event_from_body
from poolkeeper.eventparse import parse_event

ROOT = Path(__file__).resolve().parents[2]
SUB = "00000000-0000-0000-0000-000000000001"
VM = f"/subscriptions/{SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"

# Event Grid schema, as Event Grid delivers it to a Service Bus queue: one event object per message
EVENT = {
    "id": "5f1c0f0e-0000-4000-8000-000000000001",
    "topic": f"/subscriptions/{SUB}",
    "subject": VM,
    "eventType": "Microsoft.Resources.ResourceWriteSuccess",
    "eventTime": "2026-12-01T17:00:00.0000000Z",
    "dataVersion": "2",
    "metadataVersion": "1",
    "data": {"resourceUri": VM, "operationName": "Microsoft.Compute/virtualMachines/write",
             "subscriptionId": SUB, "correlationId": "c0ffee00-0000-4000-8000-000000000002", "status": "Succeeded"},
}


def test_a_message_body_is_the_event_grid_event() -> None:
    event = parse_event(event_from_body(json.dumps(EVENT).encode()))
    assert event.id == EVENT["id"]
    assert event.resource_id.lower() == VM.lower()
    assert event.operation_name == "Microsoft.Compute/virtualMachines/write"


def test_a_body_that_is_not_json_is_passed_on_as_text_to_be_dropped_as_malformed() -> None:
    assert event_from_body(b"not json \xff") == "not json \ufffd"


def test_the_queue_trigger_is_registered_only_when_the_queue_setting_is_present() -> None:
    code = ("import function_app; from poolkeeper_local.host import indexed_functions; "
            "print(sorted(f.get_function_name() for f in indexed_functions(function_app.app)))")
    base = {k: v for k, v in os.environ.items() if k != "POOLKEEPER_EVENTS_QUEUE"}
    without = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                             env={**base, "POOLKEEPER_CONFIG": "{}"})
    with_q = subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True,
                            env={**base, "POOLKEEPER_CONFIG": "{}", "POOLKEEPER_EVENTS_QUEUE": "poolkeeper-events"})
    assert "on_queued_resource_event" not in without.stdout
    assert "on_queued_resource_event" in with_q.stdout
