"""Applying planned changes to fresh ARM bodies: idempotent, preserving others' fields, detecting staleness."""

from __future__ import annotations

import pytest

from poolkeeper.changes import (
    OWNER_TAG,
    AssignNatRule,
    ClearUpgradeRecord,
    CreateNatRule,
    DeleteNatRule,
    EnsureNatRuleV2,
    JoinPool,
    LeavePool,
    SetScaleSetModelPool,
    UnassignNatRule,
)
from poolkeeper.mutations import StaleChange, edit_load_balancer, edit_nic, edit_scale_set

LB = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb"
FE = f"{LB}/frontendIPConfigurations/fe"
POOL = f"{LB}/backendAddressPools/pool"
NIC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/networkInterfaces/nic1"


def lb_body() -> dict:
    return {"id": LB, "name": "lb", "etag": 'W/"1"', "properties": {
        "frontendIPConfigurations": [{"name": "fe", "id": FE}],
        "probes": [{"name": "someoneElses", "properties": {"port": 80}}],
        "loadBalancingRules": [{"name": "http", "properties": {"frontendIPConfiguration": {"id": FE},
                                                               "protocol": "Tcp", "frontendPort": 80}}],
        "inboundNatRules": [{"name": "manual", "properties": {"frontendIPConfiguration": {"id": FE},
                                                              "protocol": "Tcp", "frontendPort": 50001}}]}}


def create(port: int, name: str = "pk-vm-22") -> CreateNatRule:
    return CreateNatRule(binding="b", reason="r", lb_id=LB, rule_name=name, frontend_ip_configuration_id=FE,
                         protocol="Tcp", frontend_port=port, backend_port=22)


def test_create_rule_keeps_everything_else_and_is_idempotent() -> None:
    once = edit_load_balancer(lb_body(), [create(50002)])
    assert [r["name"] for r in once["properties"]["inboundNatRules"]] == ["manual", "pk-vm-22"]
    assert once["properties"]["probes"] == lb_body()["properties"]["probes"]
    assert edit_load_balancer(once, [create(50002)]) == once


def test_port_taken_meanwhile_is_stale() -> None:
    with pytest.raises(StaleChange):
        edit_load_balancer(lb_body(), [create(50001)])
    with pytest.raises(StaleChange):
        edit_load_balancer(lb_body(), [create(80)])  # the load-balancing rule's frontend port


def test_ha_ports_rule_takes_every_frontend_port_as_the_planner_counts_it() -> None:
    """One port-occupancy rule (poolkeeper.ports): a load-balancing rule with frontend port 0 (HA ports) takes
    every port, here as in the planner (before, the edit ignored port 0 and wrote a rule Azure refuses)."""
    body = lb_body()
    body["properties"]["loadBalancingRules"][0]["properties"].update(frontendPort=0, protocol="All")
    with pytest.raises(StaleChange):
        edit_load_balancer(body, [create(50002)])


def test_two_creates_of_one_batch_on_one_port_are_stale() -> None:
    with pytest.raises(StaleChange):
        edit_load_balancer(lb_body(), [create(50002), create(50002, name="pk-other-22")])


def test_a_change_of_another_resource_kind_is_refused_by_the_registry() -> None:
    with pytest.raises(TypeError, match="not a load-balancer change"):
        edit_load_balancer(lb_body(), [JoinPool(binding="b", reason="r", nic_id=NIC, ip_configuration="ipconfig1",
                                                pool_id=POOL, owner_tag="b")])


def test_rewriting_an_owned_rule_needs_replace() -> None:
    body = edit_load_balancer(lb_body(), [create(50002)])
    moved = CreateNatRule(binding="b", reason="r", lb_id=LB, rule_name="pk-vm-22", frontend_ip_configuration_id=FE,
                          protocol="Udp", frontend_port=50002, backend_port=22, replace=True)
    out = edit_load_balancer(body, [moved])
    rule = next(r for r in out["properties"]["inboundNatRules"] if r["name"] == "pk-vm-22")
    assert rule["properties"]["protocol"] == "Udp"
    with pytest.raises(StaleChange):
        edit_load_balancer(body, [CreateNatRule(**{**moved.__dict__, "replace": False})])


def test_delete_rule_and_v2_rule() -> None:
    v2 = EnsureNatRuleV2(binding="b", reason="r", lb_id=LB, rule_name="pk-b-22", frontend_ip_configuration_id=FE,
                         protocol="Tcp", frontend_port_range_start=60000, frontend_port_range_end=60099,
                         backend_port=22, pool_id=POOL)
    out = edit_load_balancer(lb_body(), [v2, DeleteNatRule(binding="b", reason="r", lb_id=LB, rule_name="manual")])
    rules = {r["name"]: r["properties"] for r in out["properties"]["inboundNatRules"]}
    assert set(rules) == {"pk-b-22"}
    assert rules["pk-b-22"]["backendAddressPool"] == {"id": POOL}
    assert edit_load_balancer(out, [v2]) == out


def nic_body() -> dict:
    return {"id": NIC, "name": "nic1", "tags": {"team": "x"}, "properties": {"ipConfigurations": [
        {"name": "ipconfig1", "properties": {"privateIPAddress": "10.0.0.4"}}]}}


def test_nic_join_assign_then_release_round_trips() -> None:
    rule = f"{LB}/inboundNatRules/pk-vm-22"
    joined = edit_nic(nic_body(), [
        JoinPool(binding="b", reason="r", nic_id=NIC, ip_configuration="ipconfig1", pool_id=POOL, owner_tag="b"),
        AssignNatRule(binding="b", reason="r", nic_id=NIC, ip_configuration="IPCONFIG1", rule_id=rule)])
    props = joined["properties"]["ipConfigurations"][0]["properties"]
    assert props["loadBalancerBackendAddressPools"] == [{"id": POOL}]
    assert props["loadBalancerInboundNatRules"] == [{"id": rule}]
    assert joined["tags"] == {"team": "x", OWNER_TAG: "b"}
    assert props["privateIPAddress"] == "10.0.0.4"
    released = edit_nic(joined, [
        LeavePool(binding="b", reason="r", nic_id=NIC, ip_configuration="ipconfig1", pool_id=POOL.upper()),
        UnassignNatRule(binding="b", reason="r", nic_id=NIC, ip_configuration="ipconfig1", rule_id=rule)])
    rprops = released["properties"]["ipConfigurations"][0]["properties"]
    assert rprops["loadBalancerBackendAddressPools"] == [] and rprops["loadBalancerInboundNatRules"] == []
    assert released["tags"] == {"team": "x"}


def test_missing_ip_configuration_is_stale() -> None:
    with pytest.raises(StaleChange):
        edit_nic(nic_body(), [JoinPool(binding="b", reason="r", nic_id=NIC, ip_configuration="gone", pool_id=POOL,
                                       owner_tag="b")])


def test_scale_set_model_pool() -> None:
    nic_cfg = {"name": "nic", "properties": {"ipConfigurations": [{"name": "ip", "properties": {}}]}}
    vmss = {"name": "ss", "properties": {"virtualMachineProfile": {"networkProfile": {
        "networkInterfaceConfigurations": [nic_cfg]}}}}
    change = SetScaleSetModelPool(binding="b", reason="r", scale_set_id="x", nic_config="nic", ip_config="ip",
                                  pool_id=POOL)
    out = edit_scale_set(vmss, [change])
    ip = out["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    assert ip["properties"]["ipConfigurations"][0]["properties"]["loadBalancerBackendAddressPools"] == [{"id": POOL}]
    assert edit_scale_set(out, [change]) == out


def _vmss(tags: dict[str, str] | None = None, etag: str = '"7"') -> dict:
    nic_cfg = {"name": "nic", "properties": {"ipConfigurations": [{"name": "ip", "properties": {}}]}}
    body: dict = {"name": "ss", "etag": etag, "properties": {"virtualMachineProfile": {"networkProfile": {
        "networkInterfaceConfigurations": [nic_cfg]}}}}
    if tags is not None:
        body["tags"] = tags
    return body


def test_scale_set_model_write_records_the_instances_it_makes_stale() -> None:
    """Issue 9.9: the record is written in the same body as the model change, merged with an older record."""
    change = SetScaleSetModelPool(binding="b", reason="r", scale_set_id="x", nic_config="nic", ip_config="ip",
                                  pool_id=POOL, record_instance_ids=("0", "1", "2"), model_etag='"7"')
    out = edit_scale_set(_vmss({"env": "prod", "poolkeeper.upgrade": "5"}), [change])
    assert out["tags"] == {"env": "prod", "poolkeeper.upgrade": "0-2,5"}
    cleared = edit_scale_set(out, [ClearUpgradeRecord(binding="b", reason="r", scale_set_id="x",
                                                      instance_ids=("0", "1", "2"))])
    assert cleared["tags"] == {"env": "prod", "poolkeeper.upgrade": "5"}
    untouched = _vmss()  # nothing recorded: clearing writes nothing
    assert edit_scale_set(untouched, [ClearUpgradeRecord(binding="b", reason="r", scale_set_id="x",
                                                         instance_ids=("0",))]) == untouched


def test_scale_set_changed_since_planned_is_stale() -> None:
    change = SetScaleSetModelPool(binding="b", reason="r", scale_set_id="x", nic_config="nic", ip_config="ip",
                                  pool_id=POOL, record_instance_ids=("0",), model_etag='"7"')
    with pytest.raises(StaleChange):
        edit_scale_set(_vmss(etag='"8"'), [change])
