"""The NAT-pool workflows' changes are registered change kinds applied by the one edit path
(``mutations.edit_resource``), and each workflow's ``resolve`` is pure: pure tests, no Azure."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from poolkeeper.changes import (
    INTENT_TAG,
    AddModelRef,
    AddNatRuleV2,
    DeleteLbChild,
    DeleteNatPool,
    DropModelRef,
    RecordIntent,
    SetHealthProbe,
    SetRuleBackendPort,
)
from poolkeeper.model import Snapshot
from poolkeeper.mutations import EditConflict, StaleChange, edit_resource
from poolkeeper.workflows import KINDS
from poolkeeper.workflows.intents import BadRequest, parse_request
from poolkeeper.workflows.registry import get, resolve

RG = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/rg"
LB = f"{RG}/providers/Microsoft.Network/loadBalancers/lb"
VMSS = f"{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/ss"
FE = f"{LB}/frontendIPConfigurations/fe"
POOL = f"{LB}/inboundNatPools/np"
BACKEND = f"{LB}/backendAddressPools/be"


def _lb() -> dict[str, Any]:
    ipc0 = f"{VMSS}/virtualMachines/0/networkInterfaces/nic/ipConfigurations/ipc"
    return {"id": LB, "name": "lb", "tags": {}, "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "id": FE, "properties": {
            "inboundNatPools": [{"id": POOL}], "inboundNatRules": [{"id": f"{LB}/inboundNatRules/np.0"}]}}],
        "backendAddressPools": [{"name": "be", "id": BACKEND, "properties": {}}],
        "inboundNatPools": [{"name": "np", "id": POOL, "properties": {
            "frontendIPConfiguration": {"id": FE}, "protocol": "Tcp", "frontendPortRangeStart": 50000,
            "frontendPortRangeEnd": 50099, "backendPort": 22, "idleTimeoutInMinutes": 9}}],
        "inboundNatRules": [
            {"name": "np.0", "id": f"{LB}/inboundNatRules/np.0", "properties": {
                "frontendIPConfiguration": {"id": FE}, "frontendPort": 50000, "backendPort": 22, "protocol": "Tcp",
                "backendIPConfiguration": {"id": ipc0}}},
            {"name": "other", "id": f"{LB}/inboundNatRules/other", "properties": {
                "frontendIPConfiguration": {"id": FE}, "frontendPort": 40000, "backendPort": 3389,
                "protocol": "Tcp"}}],
        "loadBalancingRules": [{"name": "web", "id": f"{LB}/loadBalancingRules/web", "properties": {
            "frontendIPConfiguration": {"id": FE}, "frontendPort": 80, "backendPort": 80, "protocol": "Tcp"}}],
    }}


def _vmss() -> dict[str, Any]:
    return {"id": VMSS, "name": "ss", "sku": {"capacity": 1}, "properties": {
        "upgradePolicy": {"mode": "Manual"}, "virtualMachineProfile": {"networkProfile": {
            "healthProbe": {"id": f"{LB}/probes/hp"},
            "networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": True, "ipConfigurations": [
                {"name": "ipc", "properties": {"primary": True,
                                               "loadBalancerInboundNatPools": [{"id": POOL}]}}]}}]}}}}


def _names(body: dict[str, Any], collection: str) -> list[str]:
    return [c["name"] for c in body["properties"].get(collection) or []]


def test_delete_nat_pool_takes_its_derived_rules_and_the_back_references() -> None:
    lb = _lb()
    out = edit_resource(lb, [DeleteNatPool(lb_id=LB, pool_name="NP")], "loadBalancer")
    assert _names(out, "inboundNatPools") == []
    assert _names(out, "inboundNatRules") == ["other"], "only the rules Azure derived from the pool go"
    fe = out["properties"]["frontendIPConfigurations"][0]["properties"]
    assert fe["inboundNatPools"] == [] and fe["inboundNatRules"] == [], "no reference to what the PUT deletes"
    assert lb == _lb(), "the input body is not changed"


def test_record_intent_refuses_another_operations_record_as_a_stale_change() -> None:
    lb = _lb()
    mine = RecordIntent(lb_id=LB, tag_value='{"id":"a"}')
    recorded = edit_resource(lb, [mine], "loadBalancer")
    assert recorded["tags"][INTENT_TAG] == '{"id":"a"}'
    assert edit_resource(recorded, [mine], "loadBalancer") == recorded, "recording it again changes nothing"
    with pytest.raises(EditConflict, match="another operation"):
        edit_resource(recorded, [RecordIntent(lb_id=LB, tag_value='{"id":"b"}')], "loadBalancer")
    assert issubclass(EditConflict, StaleChange)


def test_set_rule_backend_port_and_a_rule_that_is_gone() -> None:
    out = edit_resource(_lb(), [SetRuleBackendPort(lb_id=LB, rule_name="WEB", backend_port=8080)], "loadBalancer")
    assert out["properties"]["loadBalancingRules"][0]["properties"]["backendPort"] == 8080
    with pytest.raises(EditConflict, match="no longer"):
        edit_resource(_lb(), [SetRuleBackendPort(lb_id=LB, rule_name="gone", backend_port=1)], "loadBalancer")


def test_nat_rule_v2_keeps_the_pools_settings_and_never_overwrites() -> None:
    rule = AddNatRuleV2(lb_id=LB, rule_name="v2", frontend_ip_configuration_id=FE, protocol="Tcp",
                        frontend_port_range_start=50000, frontend_port_range_end=50099, backend_port=22,
                        pool_id=BACKEND, idle_timeout_in_minutes=9)
    out = edit_resource(_lb(), [DeleteNatPool(lb_id=LB, pool_name="np"), rule], "loadBalancer")
    added = next(r for r in out["properties"]["inboundNatRules"] if r["name"] == "v2")["properties"]
    assert added["idleTimeoutInMinutes"] == 9 and added["backendAddressPool"] == {"id": BACKEND}
    assert "enableFloatingIP" not in added, "a setting the pool did not have is left to Azure's default"
    again = edit_resource(out, [rule], "loadBalancer")
    assert again == out


def test_delete_lb_child_by_name() -> None:
    out = edit_resource(_lb(), [DeleteLbChild(lb_id=LB, collection="inboundNatRules", name="OTHER")], "loadBalancer")
    assert _names(out, "inboundNatRules") == ["np.0"]


def test_model_references_and_health_probe() -> None:
    vmss = _vmss()
    out = edit_resource(vmss, [
        DropModelRef(scale_set_id=VMSS, key="loadBalancerInboundNatPools", ref_id=POOL.upper()),
        AddModelRef(scale_set_id=VMSS, key="loadBalancerBackendAddressPools", ref_id=BACKEND, beside=POOL),
        SetHealthProbe(scale_set_id=VMSS, probe_id=None),
    ], "scaleSet")
    net = out["properties"]["virtualMachineProfile"]["networkProfile"]
    ipc = net["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0]["properties"]
    assert ipc["loadBalancerInboundNatPools"] == [] and ipc["loadBalancerBackendAddressPools"] == [{"id": BACKEND}]
    assert "healthProbe" not in net
    assert edit_resource(out, [AddModelRef(scale_set_id=VMSS, key="loadBalancerBackendAddressPools",
                                           ref_id=BACKEND.lower())], "scaleSet") == out


def test_scale_set_changes_do_not_apply_to_a_load_balancer() -> None:
    with pytest.raises(TypeError):
        edit_resource(_lb(), [SetHealthProbe(scale_set_id=VMSS, probe_id=None)], "loadBalancer")


def test_resolve_returns_a_new_intent_and_leaves_the_request_as_it_was() -> None:
    intent = parse_request("remove-natpool", {"loadBalancer": LB, "natPool": "np", "deleteFrontend": True})
    before = copy.deepcopy(intent.params)
    snap = Snapshot.from_arm(load_balancers=[_lb()], scale_sets=[_vmss()], focus=LB)
    resolved, findings = resolve(intent, snap)
    assert intent.params == before, "resolve is pure"
    assert resolved is not intent and resolved.id == intent.id and resolved.params["frontend"] == "fe"
    codes = {f.guardrail: f.mode for f in findings}
    assert codes["InvalidResourceReference"] == "enforce", "the frontend still serves rule web and NAT rule other"
    assert codes["ConnectivityGap"] == "audit"


def test_every_workflow_is_registered_with_its_request_schema() -> None:
    assert set(KINDS) == {"remove-natpool", "migrate-natpool", "change-probed-port"}
    for kind in KINDS:
        required = get(kind).schema["required"]
        with pytest.raises(BadRequest, match=f"missing required field {required[-1]!r}"):
            parse_request(kind, {"loadBalancer": LB})
    with pytest.raises(BadRequest, match="unknown operation kind"):
        parse_request("no-such-workflow", {})
