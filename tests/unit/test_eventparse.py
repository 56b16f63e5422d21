"""Parsing and triage of ARM events: both schemas, the published samples, and every reason not to act."""

from __future__ import annotations

import json
import uuid

import pytest

from poolkeeper.config import parse_config
from poolkeeper.correlation import new_correlation_id
from poolkeeper.eventparse import OID_CLAIM, MalformedEvent, parse_event, triage
from tests.reference import REFERENCE_DIR

REF = REFERENCE_DIR
SUB = "6fb867d5-d552-4dbe-9f6a-7a151b6292aa"
RG = f"/subscriptions/{SUB}/resourceGroups/myTutorial8"
VM = f"{RG}/providers/Microsoft.Compute/virtualMachines/myVM4"
CONFIG = parse_config({"scopes": [RG], "bindings": []})


def grid_event(resource: str = VM, op: str = "Microsoft.Compute/virtualMachines/write", oid: str = "someone",
               event_type: str = "Microsoft.Resources.ResourceWriteSuccess", correlation: str = "c") -> dict:
    return {"id": "1", "eventType": event_type, "subject": resource, "eventTime": "2026-01-01T00:00:00Z",
            "data": {"resourceUri": resource, "operationName": op, "status": "Succeeded", "correlationId": correlation,
                     "claims": {OID_CLAIM: oid}}, "dataVersion": "2", "metadataVersion": "1"}


def test_published_event_grid_sample_parses() -> None:
    raw = json.loads((REF / "eventgrid-schema_ResourceWriteSuccess.json").read_text())
    raw = raw[0] if isinstance(raw, list) else raw
    event = parse_event(raw)
    assert event.operation_name == raw["data"]["operationName"]
    assert event.resource_id == raw["data"]["resourceUri"] or event.resource_id == raw["subject"]


def test_published_cloudevents_samples_parse_including_specVersion_quirk() -> None:
    for name in ("cloudevents-schema_ResourceWriteSuccess.json", "cloudevents-schema_ResourceDeleteSuccess.json"):
        raw = json.loads((REF / name).read_text())
        raw = raw[0] if isinstance(raw, list) else raw
        event = parse_event(raw)
        assert event.event_type == raw["type"]


@pytest.mark.parametrize("bad", [None, [], "x", {"eventType": "x"}, {"eventType": "x", "data": {}},
                                 {"eventType": "x", "data": {"resourceUri": "/not/an/arm/id"}}])
def test_malformed_events_raise_with_a_reason(bad: object) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(bad)


def test_vm_write_in_scope_reconciles_only_that_vm() -> None:
    decision = triage(parse_event(grid_event()), CONFIG)
    assert decision.action == "reconcile"
    assert decision.resource_group == "myTutorial8"
    assert decision.only == frozenset({VM.lower()})


def test_delete_reconciles_the_whole_resource_group() -> None:
    ev = grid_event(op="Microsoft.Compute/virtualMachines/delete",
                    event_type="Microsoft.Resources.ResourceDeleteSuccess")
    decision = triage(parse_event(ev), CONFIG)
    assert decision.action == "reconcile" and decision.only is None


def test_scale_set_instance_event_targets_the_scale_set() -> None:
    inst = f"{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/3"
    decision = triage(parse_event(grid_event(inst, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/write")),
                      CONFIG)
    assert decision.only == frozenset({f"{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/ss".lower()})


def test_reasons_not_to_act() -> None:
    own = triage(parse_event(grid_event(correlation=new_correlation_id().upper())), CONFIG)
    assert own.action == "ignore" and "own write" in own.reason
    other_op = triage(parse_event(grid_event(op="Microsoft.Storage/storageAccounts/write")), CONFIG)
    assert other_op.action == "ignore"
    other_type = triage(parse_event(grid_event(event_type="Microsoft.Resources.ResourceActionSuccess")), CONFIG)
    assert other_type.action == "ignore"
    outside = triage(parse_event(grid_event(VM.replace("myTutorial8", "other"))), CONFIG)
    assert outside.action == "refuse" and "scopes" in outside.reason


def test_ids_and_operation_names_are_case_insensitive() -> None:
    ev = grid_event(VM.replace("resourceGroups", "resourcegroups").upper().replace("/SUBSCRIPTIONS", "/subscriptions"),
                    op="microsoft.compute/virtualmachines/WRITE")
    assert triage(parse_event(ev), CONFIG).action == "reconcile"


def test_same_identity_as_poolkeeper_is_not_a_reason_to_ignore() -> None:
    """Issue 9.10: an operator using poolkeeper's identity still gets their VM wired; only the correlation id
    poolkeeper sent marks its own writes."""
    operator_write = grid_event(oid="poolkeeper-and-operator", correlation=str(uuid.uuid4()))
    assert triage(parse_event(operator_write), CONFIG).action == "reconcile"
    own_write = grid_event(oid="poolkeeper-and-operator", correlation=new_correlation_id())
    assert triage(parse_event(own_write), CONFIG).action == "ignore"
