"""The Event Grid subscription delivers exactly the events poolkeeper handles.

poolkeeper/events.py is the source of truth (HANDLED_EVENT_TYPES, HANDLED_OPERATION_NAMES). Bicep cannot import
Python, so infra/event-filter.json carries the same lists and infra/eventgrid.bicep loads it with loadJsonContent.
These tests pin the JSON to the module and the Bicep filter to the JSON: an operation missing from the filter is an
event poolkeeper never sees (only the compliance sweep would catch the drift, hours later); an extra one is a
function invocation per unrelated write, paid for and then dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pycep import BicepParser

from poolkeeper.events import HANDLED_EVENT_TYPES, HANDLED_OPERATION_NAMES

pytestmark = pytest.mark.infra

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
EVENT_FILTER_FILE = INFRA / "event-filter.json"
EVENTGRID_BICEP = INFRA / "eventgrid.bicep"
# Event Grid accepts at most 25 values across all advanced filters of one subscription.
MAX_ADVANCED_FILTER_VALUES = 25


def expected_event_filter() -> dict[str, list[str]]:
    """What infra/event-filter.json must contain, generated from poolkeeper/events.py."""
    return {
        "includedEventTypes": list(HANDLED_EVENT_TYPES),
        "operationNames": list(HANDLED_OPERATION_NAMES),
    }


def event_filter_drift(actual: dict[str, Any], expected: dict[str, list[str]]) -> list[str]:
    """Differences between the JSON filter and the Python lists, one line each (empty: none)."""
    problems: list[str] = []
    for key in sorted(set(actual) - set(expected)):
        problems.append(f"unexpected key {key!r}")
    for key, want in expected.items():
        have = actual.get(key)
        if not isinstance(have, list):
            problems.append(f"{key}: missing or not a list")
            continue
        missing = [v for v in want if v not in have]
        extra = [v for v in have if v not in want]
        if missing:
            problems.append(f"{key}: missing {missing}")
        if extra:
            problems.append(f"{key}: not handled by poolkeeper {extra}")
        if not missing and not extra and have != want:
            problems.append(f"{key}: same values, different order or duplicates")
    return problems


def _event_subscription(template: dict[str, Any]) -> dict[str, Any]:
    subs = [
        res["config"]
        for res in template["resources"].values()
        if res["type"] == "Microsoft.EventGrid/systemTopics/eventSubscriptions"
    ]
    assert len(subs) == 1, f"eventgrid.bicep must define exactly one event subscription, found {len(subs)}"
    # deployed unless the Service Bus option is on (``= if (empty(serviceBusQueueId)) {...}``): the body is inside
    return subs[0]["config"] if "condition" in subs[0] else subs[0]


def _accessor(value: Any) -> tuple[str, str] | None:
    """``var.prop`` in pycep's tree as (var, prop); None for anything else."""
    if isinstance(value, dict) and value.get("operator", {}).get("type") == "property_accessor":
        operands = value["operator"]["operands"]
        if isinstance(operands["operand_1"], str) and isinstance(operands["operand_2"], str):
            return operands["operand_1"], operands["operand_2"]
    return None


def test_event_filter_json_equals_events_module() -> None:
    """infra/event-filter.json == poolkeeper/events.py, value for value and in order."""
    actual = json.loads(EVENT_FILTER_FILE.read_text())
    expected = expected_event_filter()
    problems = event_filter_drift(actual, expected)
    assert not problems, (
        "infra/event-filter.json has drifted from poolkeeper/events.py:\n  "
        + "\n  ".join(problems)
        + "\nregenerate it with this content:\n"
        + json.dumps(expected, indent=2)
    )


def test_drift_check_reports_a_removed_operation() -> None:
    """Remove one operation from a copy of the filter: the comparison must name it (so the test above can fail)."""
    actual = expected_event_filter()
    removed = actual["operationNames"].pop()
    problems = event_filter_drift(actual, expected_event_filter())
    assert problems == [f"operationNames: missing [{removed!r}]"]


def test_eventgrid_bicep_filters_with_the_shared_file() -> None:
    """The subscription's event types and StringIn values come from event-filter.json, not from a copy."""
    template = BicepParser().parse(file_path=EVENTGRID_BICEP)
    loaders = {
        name
        for name, var in (template.get("variables") or {}).items()
        if isinstance(var.get("value"), dict)
        and var["value"].get("function", {}).get("type") == "load_json_content"
        and var["value"]["function"]["parameters"]["file_path"] == EVENT_FILTER_FILE.name
    }
    assert len(loaders) == 1, f"eventgrid.bicep must loadJsonContent('{EVENT_FILTER_FILE.name}') into one variable"
    var = loaders.pop()
    flt = _event_subscription(template)["properties"]["filter"]
    assert _accessor(flt["includedEventTypes"]) == (var, "includedEventTypes")
    advanced = flt["advancedFilters"]
    assert len(advanced) == 1, "exactly one advanced filter: StringIn on data.operationName"
    assert advanced[0]["operatorType"] == "StringIn" and advanced[0]["key"] == "data.operationName"
    assert _accessor(advanced[0]["values"]) == (var, "operationNames")
    assert len(HANDLED_OPERATION_NAMES) <= MAX_ADVANCED_FILTER_VALUES, "Event Grid allows 25 advanced-filter values"


def test_eventgrid_bicep_targets_on_resource_event_with_retries_and_dead_letter() -> None:
    """Delivery goes to the on_resource_event function (no key), retries, then dead-letters with an identity."""
    template = BicepParser().parse(file_path=EVENTGRID_BICEP)
    props = _event_subscription(template)["properties"]
    destination = props["destination"]
    assert destination["endpointType"] == "AzureFunction"
    assert destination["properties"]["resourceId"].endswith("/functions/${functionName}")
    assert template["parameters"]["functionName"]["default"] == "on_resource_event"
    assert set(props["retryPolicy"]) == {"maxDeliveryAttempts", "eventTimeToLiveInMinutes"}
    dead_letter = props["deadLetterWithResourceIdentity"]
    assert dead_letter["identity"]["type"] == "UserAssigned"
    assert dead_letter["deadLetterDestination"]["endpointType"] == "StorageBlob"


def test_handled_event_types_are_microsofts_system_event_names() -> None:
    """The literals in poolkeeper.events (kept off the cold import path) are azure-eventgrid's own names."""
    from azure.eventgrid import SystemEventNames

    expected = (SystemEventNames.ResourceWriteSuccessEventName.value,
                SystemEventNames.ResourceDeleteSuccessEventName.value)
    assert expected == HANDLED_EVENT_TYPES
