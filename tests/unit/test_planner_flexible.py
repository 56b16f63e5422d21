"""Issue 13, "Flexible scale sets arrive wired": the pool goes into a bound Flexible scale set's model (new members
are created in it, no write per member) and existing members join per NIC. Pure planner decisions."""

from __future__ import annotations

from typing import Any

from poolkeeper.changes import (
    AssignNatRule,
    Change,
    ClearUpgradeRecord,
    CreateNatRule,
    EnsureNatRuleV2,
    JoinPool,
    Plan,
    SetScaleSetModelPool,
    UpgradeInstances,
)
from poolkeeper.mutations import edit_scale_set
from poolkeeper.planner import plan

from . import builders as B
from .test_planner import converge

FLEX = B.compute_id("virtualMachineScaleSets", "flex")


def kinds(p: Plan, kind: type[Change]) -> list[Any]:
    return [c for c in p.changes if isinstance(c, kind)]


def _estate(members: int = 2, *, pools: tuple[str, ...] = (), member_pools: tuple[str, ...] = (),
            sku: str = "Standard", **ss: Any) -> dict[str, Any]:
    """The tutorial's load balancer and a Flexible scale set ``flex`` with ``members`` member VMs (own NICs)."""
    estate = B.tutorial(0, sku=sku)
    estate["vms"] = [B.vm(f"flex_{i}", nics=(f"flex_{i}-nic",), avset=None, scale_set=FLEX) for i in range(members)]
    estate["nics"] = [B.nic(f"flex_{i}-nic", vm=B.compute_id("virtualMachines", f"flex_{i}"), pools=member_pools)
                      for i in range(members)]
    estate["scale_sets"] = [B.scale_set("flex", mode="Flexible", pools=pools, **ss)]
    return estate


def _bound(**binding: Any) -> Any:
    return B.config(B.binding(match={"scaleSet": "flex"}, **binding))


def test_model_gets_the_pool_once_and_existing_members_join_per_nic() -> None:
    p, after = converge(_bound(), B.snapshot(**_estate(2)))
    (m,) = kinds(p, SetScaleSetModelPool)
    assert (m.scale_set_id, m.nic_config, m.ip_config, m.pool_id) == (FLEX, "flex-nic", "flex-ip", B.POOL_ID)
    assert m.record_instance_ids == () and m.model_etag == '"3"'  # no upgrade record; If-Match on what was planned
    assert sorted(j.nic_id.rsplit("/", 1)[-1] for j in kinds(p, JoinPool)) == ["flex_0-nic", "flex_1-nic"]
    assert not kinds(p, UpgradeInstances) and not kinds(p, ClearUpgradeRecord)  # Flexible: never upgraded
    ss = after.scale_set(FLEX)
    assert ss is not None and ss.primary_nic_configuration is not None
    assert ss.primary_nic_configuration.primary_ip_configuration.backend_pool_ids == (B.POOL_ID,)


def test_members_created_wired_cost_nothing() -> None:
    """The model has the pool and its members were created in it (no poolkeeper tag): nothing to write."""
    p = plan(_bound(), B.snapshot(**_estate(5, pools=(B.POOL_ID,), member_pools=(B.POOL_ID,))))
    assert p.is_empty, p.describe()


def test_model_without_the_pool_is_rewired_like_a_uniform_one() -> None:
    """Someone removed the pool from the model (members still in it): the model gets it back, as a Uniform model
    does (model drift, PK013 on sweeps), and no member is written."""
    p = plan(_bound(), B.snapshot(**_estate(3, member_pools=(B.POOL_ID,))))
    assert [c.kind for c in p.changes] == ["SetScaleSetModelPool"]


def test_v2_rule_over_the_pool_even_before_members_exist() -> None:
    """NAT rule V2 over the pool: members created in the pool get their port from Azure, no write per member."""
    p, _ = converge(_bound(nat=B.ssh("v2")), B.snapshot(**_estate(0)))
    assert [c.kind for c in p.changes] == ["EnsureNatRuleV2", "SetScaleSetModelPool"]
    assert kinds(p, EnsureNatRuleV2)[0].rule_name == "pk-web-22"


def test_v1_keeps_per_vm_rules_and_no_v2_rule() -> None:
    """Flexible members are VMs: a v1 binding gives each its own rule (a NIC write per member for the assignment),
    never the NAT rule V2 a Uniform scale set falls back to, and no NatRuleV1OnScaleSet note."""
    p, _ = converge(_bound(nat=B.ssh()), B.snapshot(**_estate(2, pools=(B.POOL_ID,), member_pools=(B.POOL_ID,))))
    assert not kinds(p, EnsureNatRuleV2) and not kinds(p, SetScaleSetModelPool) and not kinds(p, JoinPool)
    assert sorted(c.rule_name for c in kinds(p, CreateNatRule)) == ["pk-flex_0-22", "pk-flex_1-22"]
    assert len(kinds(p, AssignNatRule)) == 2 and not p.findings


def test_basic_load_balancer_is_reported_not_written() -> None:
    p = plan(_bound(), B.snapshot(**_estate(0, sku="Basic")))
    assert not kinds(p, SetScaleSetModelPool)
    assert [f.guardrail for f in p.findings] == ["FlexibleScaleSetOnBasicLoadBalancer"]


def test_scale_set_without_network_profile_only_wires_members() -> None:
    estate = _estate(1)
    estate["scale_sets"][0]["properties"].pop("virtualMachineProfile")
    p = plan(_bound(), B.snapshot(**estate))
    assert [c.kind for c in p.changes] == ["JoinPool"] and not p.findings


def test_ignored_or_out_of_scope_scale_set_model_is_left_alone() -> None:
    estate = _estate(0)
    estate["scale_sets"][0]["tags"] = {"poolkeeper.ignore": "true"}
    assert plan(_bound(), B.snapshot(**estate)).is_empty
    far = _estate(0)
    far["scale_sets"] = [B.scale_set("flex", rg="otherRG", mode="Flexible")]
    assert not kinds(plan(B.config(B.binding(match={"scaleSet": "flex"})), B.snapshot(**far)), SetScaleSetModelPool)


def test_event_run_for_a_member_considers_its_scale_set() -> None:
    snap = B.snapshot(**_estate(2))
    member = B.compute_id("virtualMachines", "flex_1")
    p = plan(_bound(), snap, only=[member.upper()])
    assert [c.kind for c in p.changes] == ["JoinPool", "SetScaleSetModelPool"]
    other = B.compute_id("virtualMachines", "someoneElse")
    assert plan(_bound(), snap, only=[other]).is_empty


def test_model_write_keeps_network_api_version_and_tags() -> None:
    """The edit adds the pool to the model as read: networkApiVersion and tags go back unchanged, no record."""
    body = B.scale_set("flex", mode="Flexible", tags={"env": "prod"})
    body["properties"]["virtualMachineProfile"]["networkProfile"]["networkApiVersion"] = "2020-11-01"
    (m,) = kinds(plan(_bound(), B.snapshot(**_estate(0))), SetScaleSetModelPool)
    out = edit_scale_set(body, [m])
    profile = out["properties"]["virtualMachineProfile"]["networkProfile"]
    assert profile["networkApiVersion"] == "2020-11-01" and out["tags"] == {"env": "prod"}
    ipc = profile["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0]["properties"]
    assert ipc["loadBalancerBackendAddressPools"] == [{"id": B.POOL_ID}]
