"""The dry run catches what Azure (armsim) would refuse — one test per precondition — and a refused real run
changes nothing. Where armsim can show the refusal, the test also shows that armsim really refuses it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from poolkeeper.model import Snapshot
from poolkeeper.workflows.intents import BadRequest, parse_request
from poolkeeper.workflows.preconditions import PreconditionsFailed, is_refusal
from poolkeeper.workflows.registry import resolve
from poolkeeper.workflows.shell import read_snapshot
from tests.workflows.conftest import Estate
from tests.workflows.helpers import labels


def _edit_lb(estate: Estate, edit: Callable[[dict[str, Any]], None]) -> None:
    gw = estate.gateway()
    lb = estate.lb()
    body = copy.deepcopy(lb)
    edit(body)
    gw.put_load_balancer(estate.lb_id, body, lb["etag"])


def _rule(estate: Estate, name: str, frontend: str, fport: int, bport: int) -> dict[str, Any]:
    return {"name": name, "properties": {
        "protocol": "Tcp", "frontendPort": fport, "backendPort": bport,
        "frontendIPConfiguration": {"id": f"{estate.lb_id}/frontendIPConfigurations/{frontend}"},
        "backendAddressPool": {"id": f"{estate.lb_id}/backendAddressPools/MyBackendPool"}}}


def _refused(estate: Estate, kind: str, body: dict[str, Any], code: str) -> None:
    """The dry run names ``code``; the real run raises before writing anything."""
    dry = estate.workflows.submit(estate.workflows.parse(kind, body), dry_run=True)
    assert dry["status"] == "refused"
    assert code in [p["code"] for p in dry["problems"]], dry["problems"]
    estate.sim.reset_log()
    with pytest.raises(PreconditionsFailed) as err:
        estate.workflows.submit(estate.workflows.parse(kind, body))
    assert code in str(err.value) and "Nothing was changed" in str(err.value)
    assert labels(estate.sim.requests_log()) == []


def _remove_pool_only(estate: Estate) -> None:
    record = estate.workflows.submit(estate.workflows.parse(
        "remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"}))
    assert record["status"] == "succeeded"


def _v2_rule(estate: Estate) -> dict[str, Any]:
    return {"name": "MyNatPool", "properties": {
        "protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50119, "backendPort": 22,
        "frontendIPConfiguration": {"id": f"{estate.lb_id}/frontendIPConfigurations/MyFrontendIp"},
        "backendAddressPool": {"id": f"{estate.lb_id}/backendAddressPools/MyBackendPool"}}}


def _raw_put_code(estate: Estate, edit: Callable[[dict[str, Any]], None]) -> str:
    body = estate.sim.arm("GET", estate.lb_id).json()
    edit(body)
    resp = estate.sim.arm("PUT", estate.lb_id, body)
    assert resp.status_code == 400, resp.text
    return str(resp.json()["error"]["code"])


def test_frontend_still_in_use(estate: Estate) -> None:
    _edit_lb(estate, lambda b: b["properties"]["loadBalancingRules"].append(
        _rule(estate, "UsesNatFrontend", "MyFrontendIp", 443, 443)))
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", "deleteFrontend": True}
    _refused(estate, "remove-natpool", body, "InvalidResourceReference")
    _remove_pool_only(estate)
    code = _raw_put_code(estate, lambda b: b["properties"].update(frontendIPConfigurations=[
        f for f in b["properties"]["frontendIPConfigurations"] if f["name"] != "MyFrontendIp"]))
    assert code == "InvalidResourceReference", "armsim refuses it too"


def _seed_lb(estate: Estate, edit: Callable[[dict[str, Any]], None]) -> None:
    """Like _edit_lb, through armsim's seeding path: for estates ARM no longer builds (a second, new NAT pool)."""
    body = copy.deepcopy(estate.lb())
    edit(body)
    estate.sim.sim.call(lambda: estate.sim.engine.internal_put(estate.lb_id, body))


def test_another_nat_pool_blocks_the_rule(estate: Estate) -> None:
    _seed_lb(estate, lambda b: b["properties"]["inboundNatPools"].append({"name": "RdpPool", "properties": {
        "protocol": "Tcp", "frontendPortRangeStart": 60000, "frontendPortRangeEnd": 60119, "backendPort": 3389,
        "frontendIPConfiguration": {"id": f"{estate.lb_id}/frontendIPConfigurations/LoadBalancerFrontEnd"}}}))
    code_name = "AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported"
    _refused(estate, "migrate-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"}, code_name)
    _remove_pool_only(estate)
    assert _raw_put_code(estate, lambda b: b["properties"]["inboundNatRules"].append(_v2_rule(estate))) == code_name


def test_backend_port_clash_between_rule_v2_and_load_balancing_rule(estate: Estate) -> None:
    _edit_lb(estate, lambda b: b["properties"]["loadBalancingRules"].append(
        _rule(estate, "SshThroughLb", "LoadBalancerFrontEnd", 2222, 22)))
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"}
    _refused(estate, "migrate-natpool", body, "RulesUseSameBackendPortProtocolAndPool")
    ok = estate.workflows.submit(estate.workflows.parse("migrate-natpool", {**body, "backendPool": "create"}),
                                 dry_run=True)
    assert ok["problems"] == [], "a dedicated pool avoids the clash"
    _remove_pool_only(estate)
    code = _raw_put_code(estate, lambda b: b["properties"]["inboundNatRules"].append(_v2_rule(estate)))
    assert code == "RulesUseSameBackendPortProtocolAndPool"


def test_load_balancing_rule_port_inside_the_nat_range(estate: Estate) -> None:
    """Beyond armsim: a load-balancing rule's frontend port inside the range on the same frontend."""
    _edit_lb(estate, lambda b: b["properties"]["loadBalancingRules"].append(
        _rule(estate, "InRange", "MyFrontendIp", 50050, 8080)))
    _refused(estate, "migrate-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"},
             "LoadBalancingRuleFrontendPortConflict")


def test_new_probed_port_clashes_with_another_rule(estate: Estate) -> None:
    _edit_lb(estate, lambda b: b["properties"]["loadBalancingRules"].append(
        _rule(estate, "Alt", "LoadBalancerFrontEnd", 8443, 8080)))
    body = {"loadBalancer": estate.lb_id, "rule": "MyLoadBalancerRule", "newBackendPort": 8080}
    _refused(estate, "change-probed-port", body, "RulesUseSameBackendPortProtocolAndPool")


def test_unknown_rule_and_pool(estate: Estate) -> None:
    _refused(estate, "change-probed-port", {"loadBalancer": estate.lb_id, "rule": "Nope", "newBackendPort": 81},
             "ResourceNotFound")
    dry = estate.workflows.submit(estate.workflows.parse(
        "remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "NoSuchPool"}), dry_run=True)
    assert dry["plan"] == [] and dry["notes"][0]["code"] == "NothingToDo" and "MyNatPool" in dry["notes"][0]["message"]
    missing_lb = estate.lb_id.replace("MyLoadBalancer", "NoSuchLb")
    _refused(estate, "remove-natpool", {"loadBalancer": missing_lb, "natPool": "MyNatPool"}, "ResourceNotFound")


def test_rolling_upgrade_policy(estate: Estate) -> None:
    gw = estate.gateway()
    vmss = estate.vmss()
    vmss["properties"]["upgradePolicy"] = {"mode": "Rolling"}
    gw.put_scale_set(estate.vmss_id, vmss, vmss.get("etag"))
    _refused(estate, "remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"},
             "RollingUpgradePolicy")
    allowed = estate.workflows.submit(estate.workflows.parse(
        "remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", "allowRolling": True}), dry_run=True)
    assert allowed["problems"] == [] and allowed["plan"][2]["kind"] == "wait-instances"
    # detaching the health probe of a Rolling scale set is refused even when rolling is allowed
    _refused(estate, "change-probed-port", {"loadBalancer": estate.lb_id, "rule": "MyLoadBalancerRule",
                                            "newBackendPort": 8080, "allowRolling": True}, "RollingUpgradePolicy")


def test_automatic_policy_waits_for_azure(estate: Estate) -> None:
    gw = estate.gateway()
    vmss = estate.vmss()
    vmss["properties"]["upgradePolicy"] = {"mode": "Automatic"}
    gw.put_scale_set(estate.vmss_id, vmss, vmss.get("etag"))
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"}
    dry = estate.workflows.submit(estate.workflows.parse("remove-natpool", body), dry_run=True)
    assert [s["kind"] for s in dry["plan"]] == ["lb-write", "update-model", "wait-instances", "lb-write"]
    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("remove-natpool", body))
    assert record["status"] == "succeeded", record.get("error")
    # Azure (armsim) may apply the model before we look: then there is nothing left to wait for
    assert {s["kind"] for s in record["steps"]} <= {"lb-write", "update-model", "wait-instances"}
    assert not any("manualupgrade" in x.lower() for x in labels(estate.sim.requests_log()))


# ---------------------------------------------------------------------------------------------------- pure checks
@pytest.fixture
def snapshot(estate: Estate) -> Snapshot:
    intent = parse_request("migrate-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"})
    return read_snapshot(estate.gateway(), intent)


def _problems(estate: Estate, snap: Snapshot, kind: str = "migrate-natpool", **extra: Any) -> list[str]:
    intent = parse_request(kind, {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", **extra})
    return [f.guardrail for f in resolve(intent, snap)[1] if is_refusal(f)]


def test_basic_sku_cannot_take_a_rule_v2(estate: Estate, snapshot: Snapshot) -> None:
    assert snapshot.focus_lb is not None
    snapshot.focus_lb["sku"] = {"name": "Basic"}
    assert "NatRuleV2RequiresStandardSku" in _problems(estate, snapshot)


def test_range_smaller_than_instances(estate: Estate, snapshot: Snapshot) -> None:
    assert snapshot.focus_lb is not None
    snapshot.focus_lb["properties"]["inboundNatPools"][0]["properties"]["frontendPortRangeEnd"] = 50001
    assert "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts" in _problems(estate, snapshot)


def test_rules_per_nic_quota(estate: Estate, snapshot: Snapshot) -> None:
    assert snapshot.focus_lb is not None
    template = snapshot.focus_lb["properties"]["loadBalancingRules"][0]
    for i in range(300):
        rule = copy.deepcopy(template)
        rule["name"] = f"r{i}"
        snapshot.focus_lb["properties"]["loadBalancingRules"].append(rule)
    assert "LoadBalancerRuleCountLimitReachedForNic" in _problems(estate, snapshot)


def test_no_matching_pool(estate: Estate, snapshot: Snapshot) -> None:
    for vmss in snapshot.scale_set_bodies():
        nic = vmss["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
        nic["properties"]["ipConfigurations"][0]["properties"]["loadBalancerBackendAddressPools"] = []
    assert _problems(estate, snapshot, backendPool="reuse-matching") == ["NoMatchingBackendPool"]
    assert _problems(estate, snapshot, backendPool="MyBackendPool") == ["BackendPoolMembershipMismatch"]
    assert _problems(estate, snapshot) == [], "default: create a pool when none matches"


def test_intent_too_long_for_a_tag(estate: Estate) -> None:
    long_ids = [f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/Other{i}/providers/"
                f"Microsoft.Compute/virtualMachineScaleSets/set{i}" for i in range(3)]
    intent = parse_request("remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool",
                                              "scaleSets": long_ids})
    with pytest.raises(BadRequest, match="256"):
        intent.tag_value()


@pytest.mark.parametrize("body, message", [
    ({"natPool": "p"}, "missing required field 'loadBalancer'"),
    ({"loadBalancer": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb",
      "natPool": 3}, "natPool must be a str"),
    ({"loadBalancer": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm",
      "natPool": "p"}, "loadBalancer must be a load balancer id"),
    ({"loadBalancer": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb",
      "natPool": "p", "deletePublicIp": True}, "deletePublicIp needs deleteFrontend"),
])
def test_bad_requests_name_the_field(body: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest, match=message.replace("(", r"\(")):
        parse_request("remove-natpool", body)
