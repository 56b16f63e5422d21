"""Event Grid filter semantics and chaos-knob parsing, without a simulator (pure functions)."""

from __future__ import annotations

from typing import Any

import pytest

from armsim.errors import ArmError
from armsim.eventgrid import filters, schema
from armsim.eventgrid.chaos import Chaos

SUB = "/subscriptions/6fb867d5-d552-4dbe-9f6a-7a151b6292aa"
VM = f"{SUB}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"


def event(**overrides: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {
        "id": "e1", "subject": VM, "eventType": "Microsoft.Resources.ResourceWriteSuccess", "topic": SUB,
        "eventTime": "2025-01-01T00:00:00Z", "dataVersion": "2", "metadataVersion": "1",
        "data": {"operationName": "Microsoft.Compute/virtualMachines/write", "status": "Succeeded",
                 "tags": ["a", "b"], "count": 3, "flag": True},
    }
    ev.update(overrides)
    return ev


def match(flt: dict[str, Any], ev: dict[str, Any] | None = None) -> bool:
    ev = ev or event()
    return filters.matches(filters.normalize(flt), ev, ev)


def adv(op: str, key: str, values: Any = None, value: Any = None) -> dict[str, Any]:
    af: dict[str, Any] = {"operatorType": op, "key": key}
    if values is not None:
        af["values"] = values
    if value is not None:
        af["value"] = value
    return {"advancedFilters": [af]}


def test_no_filter_matches_everything() -> None:
    assert match({})


def test_included_event_types_are_case_insensitive() -> None:
    assert match({"includedEventTypes": ["microsoft.resources.resourcewritesuccess"]})
    assert not match({"includedEventTypes": ["Microsoft.Resources.ResourceDeleteSuccess"]})


def test_subject_prefix_and_suffix_honour_case_sensitivity() -> None:
    assert match({"subjectBeginsWith": SUB.upper() + "/RESOURCEGROUPS/RG1", "subjectEndsWith": "/VM1"})
    assert not match({"subjectBeginsWith": SUB.upper(), "isSubjectCaseSensitive": True})
    assert not match({"subjectEndsWith": "/vm2"})


@pytest.mark.parametrize(("op", "values", "expected"), [
    ("StringIn", ["microsoft.compute/virtualmachines/write"], True),
    ("StringIn", ["Microsoft.Compute/virtualMachines/delete"], False),
    ("StringNotIn", ["Microsoft.Compute/virtualMachines/delete"], True),
    ("StringNotIn", ["MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE"], False),
    ("StringBeginsWith", ["nope", "microsoft.compute/"], True),
    ("StringEndsWith", ["/WRITE"], True),
    ("StringContains", ["virtualmachines"], True),
    ("StringContains", ["scalesets"], False),
    ("StringNotContains", ["scalesets"], True),
    ("StringNotBeginsWith", ["microsoft.network/"], True),
])
def test_string_operators_on_operation_name(op: str, values: list[str], expected: bool) -> None:
    assert match(adv(op, "data.operationName", values)) is expected


def test_keys_reach_envelope_fields_and_are_case_insensitive() -> None:
    assert match(adv("StringBeginsWith", "subject", [SUB.lower()]))
    assert match(adv("StringIn", "eventType", ["Microsoft.Resources.ResourceWriteSuccess"]))
    assert match(adv("StringIn", "Data.OperationName", ["Microsoft.Compute/virtualMachines/write"]))


def test_missing_key_matches_only_negated_operators() -> None:
    assert not match(adv("StringIn", "data.missing", ["x"]))
    assert match(adv("StringNotIn", "data.missing", ["x"]))
    assert match(adv("IsNullOrUndefined", "data.missing"))
    assert not match(adv("IsNotNull", "data.missing"))


def test_number_and_bool_operators() -> None:
    assert match(adv("NumberIn", "data.count", [1, 3]))
    assert match(adv("NumberGreaterThan", "data.count", value=2))
    assert not match(adv("NumberLessThan", "data.count", value=3))
    assert match(adv("BoolEquals", "data.flag", value=True))


def test_arrays_need_enable_advanced_filtering_on_arrays() -> None:
    flt = adv("StringIn", "data.tags", ["b"])
    assert not match(flt)
    assert match({**flt, "enableAdvancedFilteringOnArrays": True})


def test_advanced_filters_are_anded() -> None:
    flt = {"advancedFilters": [
        {"operatorType": "StringIn", "key": "data.operationName",
         "values": ["Microsoft.Compute/virtualMachines/write"]},
        {"operatorType": "StringContains", "key": "subject", "values": ["vm2"]},
    ]}
    assert not match(flt)


def test_cloudevents_keys_refer_to_the_cloudevent() -> None:
    eg = event()
    ce = schema.to_cloudevent(eg)
    flt = filters.normalize(adv("StringIn", "type", ["Microsoft.Resources.ResourceWriteSuccess"]))
    assert filters.matches(flt, eg, ce)
    assert ce["source"] == SUB and ce["specversion"] == "1.0" and ce["data"] == eg["data"]


@pytest.mark.parametrize("flt", [
    {"advancedFilters": [{"operatorType": "StringIn", "key": "subject"}]},
    {"advancedFilters": [{"operatorType": "StringIn", "values": ["x"]}]},
    {"advancedFilters": [{"operatorType": "NumberLessThan", "key": "data.count"}]},
    {"advancedFilters": [{"operatorType": "StringIn", "key": "subject", "values": ["x"] * 26}]},
    {"includedEventTypes": "Microsoft.Resources.ResourceWriteSuccess"},
])
def test_invalid_filters_are_refused(flt: dict[str, Any]) -> None:
    with pytest.raises(ArmError) as err:
        filters.normalize(flt)
    assert err.value.status == 400


def test_chaos_parse() -> None:
    c = Chaos.parse({"seed": 1, "delay_ms": [5, 10], "duplicate_rate": 0.2, "reorder": True, "batch_size": 10})
    assert c.describe() == {"seed": 1, "delay_ms": [5.0, 10.0], "duplicate_rate": 0.2, "reorder": True,
                            "batch_size": 10, "concurrency": 1}
    first, again = c.rng(), Chaos.parse({"seed": 1}).rng()
    assert [first.random() for _ in range(3)] == [again.random() for _ in range(3)]  # seedable
    for bad in ({"nope": 1}, {"delay_ms": [3, 1]}, {"duplicate_rate": 2}, {"batch_size": 0}):
        with pytest.raises(ValueError):
            Chaos.parse(bad)


def test_base_url_drops_the_query_string() -> None:
    assert schema.base_url("https://host:8443/api/events?code=secret") == "https://host:8443/api/events"
