"""Planner rules, on the tutorial estate (seed 003) and the per-VM NAT layout of seed 000."""

from __future__ import annotations

import dataclasses
from typing import Any

from poolkeeper.changes import (
    AssignNatRule,
    Change,
    ClearUpgradeRecord,
    CreateNatRule,
    DeleteNatRule,
    EnsureNatRuleV2,
    JoinPool,
    LeavePool,
    Plan,
    SetScaleSetModelPool,
    UnassignNatRule,
    UpgradeInstances,
    stage_of,
)
from poolkeeper.config import Config
from poolkeeper.findings import planner_finding
from poolkeeper.model import Snapshot
from poolkeeper.planner import plan

from . import builders as B
from .arm_apply import apply_plan_to_snapshot

VM1 = B.compute_id("virtualMachines", "myVM1")
NIC1 = B.net_id("networkInterfaces", "myNic1")


def kinds(p: Plan, kind: type[Change]) -> list[Any]:
    return [c for c in p.changes if isinstance(c, kind)]


def codes(p: Plan) -> list[str]:
    return [f.guardrail for f in p.findings]


def converge(cfg: Config, snap: Snapshot, **kw: Any) -> tuple[Plan, Snapshot]:
    """Plan, apply, and check a second plan is empty and identical planning is deterministic."""
    p = plan(cfg, snap, **kw)
    assert plan(cfg, snap, **kw) == p
    after = apply_plan_to_snapshot(snap, p)
    again = plan(cfg, after, **kw)
    assert again.is_empty, again.describe()
    return p, after


def rule_ports(snap: Snapshot) -> dict[str, int | None]:
    lb = snap.load_balancer(B.LB_ID)
    assert lb is not None
    return {r.name: r.frontend_port for r in lb.inbound_nat_rules}


# -- joins and per-VM NAT rules ------------------------------------------------------------------------------------


def test_tutorial_joins_all_three_with_nat_rules() -> None:
    cfg = B.config(B.binding(nat=B.ssh()))
    p, after = converge(cfg, B.snapshot(**B.tutorial()))
    joins = kinds(p, JoinPool)
    assert [j.nic_id.rsplit("/", 1)[-1] for j in joins] == ["myNic1", "myNic2", "myNic3"]
    assert all(j.owner_tag == "web" and j.ip_configuration == "ipConfig1" and j.pool_id == B.POOL_ID for j in joins)
    creates = kinds(p, CreateNatRule)
    assert [(c.rule_name, c.frontend_port, c.backend_port, c.protocol) for c in creates] == [
        ("pk-myVM1-22", 50001, 22, "Tcp"), ("pk-myVM2-22", 50002, 22, "Tcp"), ("pk-myVM3-22", 50003, 22, "Tcp")]
    assert len(kinds(p, AssignNatRule)) == 3 and not p.findings and not any(c.replace for c in creates)
    # LB writes before the NIC writes that reference them
    stages = [stage_of(c) for c in p.changes]
    assert stages == sorted(stages, key=["nic-release", "load-balancer", "nic-join"].index)
    nic = after.nic(NIC1)
    assert nic is not None and nic.tags["poolkeeper.binding"] == "web"
    assert rule_ports(after) == {"pk-myVM1-22": 50001, "pk-myVM2-22": 50002, "pk-myVM3-22": 50003}


def test_rdp_ports_like_the_reference_architecture() -> None:
    nat = {**B.ssh(), "backendPort": 3389}
    p = plan(B.config(B.binding(nat=nat)), B.snapshot(**B.tutorial(2)))
    assert [(c.rule_name, c.frontend_port) for c in kinds(p, CreateNatRule)] == [("pk-myVM1-3389", 50001),
                                                                               ("pk-myVM2-3389", 50002)]


def test_without_nat_rule_only_pool_membership() -> None:
    p, _ = converge(B.config(B.binding()), B.snapshot(**B.tutorial()))
    assert [c.kind for c in p.changes] == ["JoinPool"] * 3 and p.findings == ()


def test_untagged_existing_members_are_not_adopted() -> None:
    p = plan(B.config(B.binding()), B.snapshot(**B.tutorial(joined=True)))
    assert p == Plan()


def test_existing_rule_keeps_its_port_and_new_ones_fill_gaps() -> None:
    estate = B.tutorial()
    ip1 = B.ipconfig_id("myNic1")
    estate["load_balancers"] = [B.load_balancer(nat_rules=[
        B.nat_rule("pk-myVM1-22", 50007, backend_ip_configuration=ip1),
        B.nat_rule("legacy-rdp", 50001, backend_port=3389)])]
    estate["nics"][0] = B.nic("myNic1", vm=VM1, pools=(B.POOL_ID,),
                              nat_rules=(f"{B.LB_ID}/inboundNatRules/pk-myVM1-22",), tags={"poolkeeper.binding": "web"})
    p, after = converge(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate))
    assert [(c.rule_name, c.frontend_port) for c in kinds(p, CreateNatRule)] == [("pk-myVM2-22", 50002),
                                                                               ("pk-myVM3-22", 50003)]
    assert not kinds(p, DeleteNatRule)  # the legacy rule is not poolkeeper's
    assert rule_ports(after)["pk-myVM1-22"] == 50007 and rule_ports(after)["legacy-rdp"] == 50001


def test_port_range_exhausted_is_reported_not_planned() -> None:
    cfg = B.config(B.binding(nat=B.ssh(start=50001, end=50002)))
    p = plan(cfg, B.snapshot(**B.tutorial()))
    assert len(kinds(p, CreateNatRule)) == 2
    (r,) = p.findings
    assert r.guardrail == "PortRangeExhausted" and r.resource_id == B.compute_id("virtualMachines", "myVM3")
    assert "widen natRule.frontendPortRange" in r.message
    assert len(kinds(p, JoinPool)) == 3  # membership does not depend on a NAT port


def test_backend_port_change_replaces_owned_rule() -> None:
    cfg = B.config(B.binding(nat=B.ssh()))
    _, after = converge(cfg, B.snapshot(**B.tutorial(1)))
    cfg2 = B.config(B.binding(nat={**B.ssh(), "backendPort": 2222}))
    p, after2 = converge(cfg2, after)
    assert [c.rule_name for c in kinds(p, DeleteNatRule)] == ["pk-myVM1-22"]
    assert [c.rule_id.rsplit("/", 1)[-1] for c in kinds(p, UnassignNatRule)] == ["pk-myVM1-22"]
    # the old rule is deleted in the same load-balancer write, so its port is free again
    assert [(c.rule_name, c.frontend_port) for c in kinds(p, CreateNatRule)] == [("pk-myVM1-2222", 50001)]
    assert [c.kind for c in p.changes if c.kind in ("DeleteNatRule", "CreateNatRule")] == ["DeleteNatRule",
                                                                                          "CreateNatRule"]
    assert set(rule_ports(after2)) == {"pk-myVM1-2222"}


def test_frontend_change_keeps_the_port_number() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(frontends=("myFrontEndPool", "fe2"))]
    _, after = converge(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate))
    cfg2 = B.config(B.binding(nat={**B.ssh(), "frontendIpConfiguration": "fe2"}))
    p, after2 = converge(cfg2, after)
    (c,) = kinds(p, CreateNatRule)
    assert c.frontend_port == 50001 and c.frontend_ip_configuration_id.endswith("/fe2") and c.replace
    assert not kinds(p, DeleteNatRule) and rule_ports(after2) == {"pk-myVM1-22": 50001}


# -- selection ------------------------------------------------------------------------------------------------------


def test_ignore_tag_skips_the_vm() -> None:
    estate = B.tutorial()
    estate["vms"][0] = B.vm("myVM1", tags={"Poolkeeper.Ignore": "TRUE"})
    p = plan(B.config(B.binding()), B.snapshot(**estate))
    assert [j.nic_id.rsplit("/", 1)[-1] for j in kinds(p, JoinPool)] == ["myNic2", "myNic3"]


def test_ignore_tag_also_prevents_release() -> None:
    estate = B.tutorial(1, joined=True, tagged=True)
    estate["vms"][0] = B.vm("myVM1", avset=None, tags={"poolkeeper.ignore": "true"})
    assert plan(B.config(B.binding()), B.snapshot(**estate)) == Plan()


def test_explicit_binding_tag_wins_and_unknown_is_reported() -> None:
    estate = B.tutorial(2)
    estate["vms"][0] = B.vm("myVM1", avset=None, tags={"poolkeeper.binding": "other"})
    estate["vms"][1] = B.vm("myVM2", tags={"poolkeeper.binding": "nope"})
    cfg = B.config(B.binding(), B.binding("other", match={"namePattern": "zzz"}, pool="p2"))
    estate["load_balancers"] = [B.load_balancer(pools=("myBackEndPool", "p2"))]
    p = plan(cfg, B.snapshot(**estate))
    (j,) = kinds(p, JoinPool)
    assert j.pool_id.endswith("/p2") and j.owner_tag == "other"
    (r,) = p.findings
    assert r.guardrail == "UnknownBinding" and "'nope'" in r.message and r.resource_id.endswith("myVM2")


def test_several_matches_use_first_and_report() -> None:
    cfg = B.config(B.binding("first"), B.binding("second", match={"namePattern": "MYVM*"}))
    p = plan(cfg, B.snapshot(**B.tutorial(1)))
    (j,) = kinds(p, JoinPool)
    assert j.owner_tag == "first"
    (r,) = p.findings
    assert r.guardrail == "SeveralBindingsMatch" and "ignoring second" in r.message


def test_match_criteria() -> None:
    estate = B.tutorial(3)
    estate["vms"][0] = B.vm("myVM1", tags={"role": "web"})
    estate["vms"][1] = B.vm("myVM2", tags={"role": "db"})
    for match, expected in [
        ({"tags": {"role": "web"}}, ["myNic1"]),
        ({"tags": {"ROLE": "web"}}, ["myNic1"]),
        ({"tags": {"role": "Web"}}, []),
        ({"resourceGroup": "MYTUTORIAL8", "namePattern": "*vm[23]"}, ["myNic2", "myNic3"]),
        ({"availabilitySet": B.AVSET_ID.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")},
         ["myNic1", "myNic2", "myNic3"]),
        ({"availabilitySet": "otherSet"}, []),
        ({"resourceGroup": "elsewhere"}, []),
        ({"scaleSet": "ss"}, []),
    ]:
        p = plan(B.config(B.binding(match=match)), B.snapshot(**estate))
        assert [j.nic_id.rsplit("/", 1)[-1] for j in kinds(p, JoinPool)] == expected, match


def test_vms_outside_scopes_are_never_planned() -> None:
    estate = B.tutorial(1)
    estate["vms"].append(B.vm("farVM", rg="otherRG", nics=("farNic",)))
    estate["nics"].append(B.nic("farNic", rg="otherRG", vm=B.compute_id("virtualMachines", "farVM", "otherRG")))
    p = plan(B.config(B.binding(match={"namePattern": "*"})), B.snapshot(**estate))
    assert [j.nic_id.rsplit("/", 1)[-1] for j in kinds(p, JoinPool)] == ["myNic1"]


def test_flexible_scale_set_vms_are_wired_like_vms() -> None:
    flex = B.compute_id("virtualMachineScaleSets", "flex")
    estate = B.tutorial(0)
    estate["vms"] = [B.vm("flex_1", nics=("flexNic1",), avset=None, scale_set=flex)]
    estate["nics"] = [B.nic("flexNic1", vm=B.compute_id("virtualMachines", "flex_1"))]
    estate["scale_sets"] = [B.scale_set("flex", mode="Flexible")]
    p, _ = converge(B.config(B.binding(match={"scaleSet": "flex"}, nat=B.ssh())), B.snapshot(**estate))
    # v1: the member keeps its per-VM rule (one NIC write for it); the pool also goes into the model (issue 13)
    assert [c.kind for c in p.changes] == ["CreateNatRule", "JoinPool", "AssignNatRule", "SetScaleSetModelPool"]
    assert kinds(p, CreateNatRule)[0].rule_name == "pk-flex_1-22"


# -- releases -------------------------------------------------------------------------------------------------------


def _owned_estate() -> dict[str, Any]:
    """myVM1..3 joined by poolkeeper with NAT rules 50001..50003."""
    _, after = converge(B.config(B.binding(nat=B.ssh())), B.snapshot(**B.tutorial()))
    return after.to_arm()


def test_deleted_vm_is_released_and_its_rule_deleted() -> None:
    estate = _owned_estate()
    estate["vms"] = [v for v in estate["vms"] if v["name"] != "myVM2"]
    cfg = B.config(B.binding(nat=B.ssh()))
    p, after = converge(cfg, B.snapshot(**estate))
    assert [c.kind for c in p.changes] == ["UnassignNatRule", "LeavePool", "DeleteNatRule"] and p.findings == ()
    assert all(c.nic_id.endswith("myNic2") for c in p.changes if not isinstance(c, DeleteNatRule))
    assert kinds(p, LeavePool)[0].remove_owner_tag
    assert kinds(p, DeleteNatRule)[0].rule_name == "pk-myVM2-22"
    assert "myVM2 no longer exists" in p.changes[0].reason
    nic2 = after.nic(B.net_id("networkInterfaces", "myNic2"))
    assert nic2 is not None and "poolkeeper.binding" not in nic2.tags
    assert rule_ports(after) == {"pk-myVM1-22": 50001, "pk-myVM3-22": 50003}


def test_vm_that_stops_matching_is_released() -> None:
    estate = _owned_estate()
    estate["vms"][0]["tags"] = {"poolkeeper.binding": "db"}  # moved to a binding with another pool
    estate["load_balancers"][0]["properties"]["backendAddressPools"].append(
        {"name": "dbPool", "id": f"{B.LB_ID}/backendAddressPools/dbPool"})
    cfg = B.config(B.binding(nat=B.ssh()), B.binding("db", match={"namePattern": "none"}, pool="dbPool"))
    p, after = converge(cfg, B.snapshot(**estate))
    assert [c.kind for c in p.changes] == ["UnassignNatRule", "LeavePool", "DeleteNatRule", "JoinPool"]
    assert kinds(p, JoinPool)[0].owner_tag == "db"
    nic1 = after.nic(NIC1)
    assert nic1 is not None and nic1.tags["poolkeeper.binding"] == "db"
    ic = nic1.primary_ip_configuration
    assert ic is not None and [p.rsplit("/", 1)[-1] for p in ic.backend_pool_ids] == ["dbPool"]


def test_move_between_bindings_sharing_a_pool_only_retags() -> None:
    estate = _owned_estate()
    estate["vms"][0]["tags"] = {"poolkeeper.binding": "web2"}
    cfg = B.config(B.binding(nat=B.ssh()), B.binding("web2", match={"namePattern": "none"}, nat=B.ssh()))
    p, _ = converge(cfg, B.snapshot(**estate))
    assert [c.kind for c in p.changes] == ["JoinPool"]  # same pool, same rule name: keep both, retag
    assert kinds(p, JoinPool)[0].owner_tag == "web2"


def test_detached_nic_is_released() -> None:
    estate = _owned_estate()
    estate["vms"] = [v for v in estate["vms"] if v["name"] != "myVM1"]
    del estate["nics"][0]["properties"]["virtualMachine"]
    p, _ = converge(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate))
    assert "no longer attached" in kinds(p, LeavePool)[0].reason


def test_untagged_pool_members_are_never_released() -> None:
    estate = B.tutorial(joined=True)
    estate["vms"] = []
    assert plan(B.config(B.binding()), B.snapshot(**estate)) == Plan()


def test_unknown_owner_binding_is_reported() -> None:
    estate = B.tutorial(1, joined=True)
    estate["nics"][0]["tags"] = {"poolkeeper.binding": "retired"}
    estate["vms"] = []
    p = plan(B.config(B.binding()), B.snapshot(**estate))
    assert p.is_empty and codes(p) == ["UnknownOwnerBinding"]


def test_recreated_vm_takes_over_its_rule_and_port() -> None:
    estate = _owned_estate()
    del estate["nics"][0]["properties"]["virtualMachine"]  # old NIC detached when myVM1 was deleted
    estate["vms"][0] = B.vm("myVM1", nics=("myNic1b",))
    estate["nics"].append(B.nic("myNic1b", vm=VM1))
    p, after = converge(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate))
    assert not kinds(p, DeleteNatRule) and not kinds(p, CreateNatRule)
    assert [c.kind for c in p.changes] == ["UnassignNatRule", "LeavePool", "JoinPool", "AssignNatRule"]
    assert rule_ports(after)["pk-myVM1-22"] == 50001


def test_only_limits_releases_to_the_event() -> None:
    estate = _owned_estate()
    estate["vms"] = [v for v in estate["vms"] if v["name"] not in ("myVM2", "myVM3")]
    cfg = B.config(B.binding(nat=B.ssh()))
    snap = B.snapshot(**estate)
    p = plan(cfg, snap, only={B.compute_id("virtualMachines", "myVM2").upper()})
    assert {c.nic_id.rsplit("/", 1)[-1] for c in p.changes if hasattr(c, "nic_id")} == {"myNic2"}
    assert plan(cfg, snap, only={VM1}) == Plan()
    assert plan(cfg, snap, only=set()) == Plan()


def test_only_limits_joins() -> None:
    p = plan(B.config(B.binding()), B.snapshot(**B.tutorial()), only={B.net_id("networkInterfaces", "myNic3")})
    assert [j.nic_id.rsplit("/", 1)[-1] for j in kinds(p, JoinPool)] == ["myNic3"]


def test_orphaned_pk_rule_is_deleted_but_foreign_rules_are_not() -> None:
    gone_ip = B.ipconfig_id("goneNic")
    estate = B.tutorial(0)
    estate["load_balancers"] = [B.load_balancer(nat_rules=[
        B.nat_rule("pk-old-22", 50001, backend_ip_configuration=gone_ip),
        B.nat_rule("manual-22", 50002, backend_ip_configuration=gone_ip),
        B.nat_rule("pk-never-assigned-22", 50003)])]
    cfg = B.config(B.binding(nat=B.ssh()))
    p, _ = converge(cfg, B.snapshot(**estate))
    assert sorted(c.rule_name for c in kinds(p, DeleteNatRule)) == ["pk-never-assigned-22", "pk-old-22"]
    # an event-driven run deletes only what the event is about
    p2 = plan(cfg, B.snapshot(**estate), only={B.net_id("networkInterfaces", "goneNic")})
    assert [c.rule_name for c in kinds(p2, DeleteNatRule)] == ["pk-old-22"]


# -- refusals -------------------------------------------------------------------------------------------------------


def test_nic_in_another_vnet_is_refused() -> None:
    estate = B.tutorial(2, joined=True)
    estate["vms"].append(B.vm("myVM3"))
    estate["nics"].append(B.nic("myNic3", vm=B.compute_id("virtualMachines", "myVM3"),
                                subnet=B.subnet_id("otherVnet")))
    p = plan(B.config(B.binding()), B.snapshot(**estate))
    assert p.is_empty and codes(p) == ["VirtualNetworkMismatch"]
    assert "otherVnet".lower() in p.findings[0].message.lower()


def test_internal_lb_frontend_subnet_decides_the_vnet() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(internal_subnet=B.subnet_id("lbVnet"))]
    p = plan(B.config(B.binding()), B.snapshot(**estate))
    assert codes(p) == ["VirtualNetworkMismatch"] and p.is_empty


def test_basic_lb_refuses_mixing_availability_sets() -> None:
    estate = B.tutorial(2, joined=True, sku="Basic")
    estate["vms"].append(B.vm("myVM3", avset=B.compute_id("availabilitySets", "otherSet")))
    estate["nics"].append(B.nic("myNic3", vm=B.compute_id("virtualMachines", "myVM3")))
    p = plan(B.config(B.binding(match={"namePattern": "myvm*"})), B.snapshot(**estate))
    assert p.is_empty and codes(p) == ["BasicSkuAvailabilitySetMix"]
    # the same on a Standard LB is fine
    estate["load_balancers"] = [B.load_balancer(sku="Standard")]
    assert len(plan(B.config(B.binding(match={"namePattern": "myvm*"})), B.snapshot(**estate)).changes) == 1


def test_basic_lb_mixing_within_one_plan_is_refused() -> None:
    estate = B.tutorial(2, sku="Basic")
    estate["vms"][1] = B.vm("myVM2", avset=B.compute_id("availabilitySets", "otherSet"))
    p = plan(B.config(B.binding(match={"namePattern": "myvm*"})), B.snapshot(**estate))
    assert len(kinds(p, JoinPool)) == 1 and codes(p) == ["BasicSkuAvailabilitySetMix"]


def test_nat_pool_present_is_reported_and_membership_still_managed() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(nat_pools=[B.nat_pool("natpool", 50000, 50099)])]
    p, _ = converge(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate))
    assert [c.kind for c in p.changes] == ["JoinPool"]
    (r,) = p.findings
    assert r.guardrail == "NatPoolPresent" and "poolkeeper natpool migrate" in r.message
    assert "AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported" in r.message


def test_missing_lb_pool_frontend_and_out_of_scope_lb() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = []
    p = plan(B.config(B.binding()), B.snapshot(**estate))
    assert p.is_empty and codes(p) == ["LoadBalancerNotFound"]
    p = plan(B.config(B.binding(pool="nope")), B.snapshot(**B.tutorial(1)))
    assert p.is_empty and codes(p) == ["BackendPoolNotFound"]
    p = plan(B.config(B.binding(nat={**B.ssh(), "frontendIpConfiguration": "nope"})), B.snapshot(**B.tutorial(1)))
    assert [c.kind for c in p.changes] == ["JoinPool"] and codes(p) == ["FrontendNotFound"]
    cfg = B.config(B.binding())
    far = B.net_id("loadBalancers", "far", "otherRG")
    cfg = dataclasses.replace(cfg, bindings=(dataclasses.replace(cfg.bindings[0], load_balancer=far),))
    p = plan(cfg, B.snapshot(**B.tutorial(1)))
    assert p.is_empty and codes(p) == ["LoadBalancerOutOfScope"]


def test_name_collision_across_resource_groups() -> None:
    estate = B.tutorial(1)
    estate["vms"].append(B.vm("myVM1", rg="rg2", nics=("n2",)))
    estate["nics"].append(B.nic("n2", rg="rg2", vm=B.compute_id("virtualMachines", "myVM1", "rg2")))
    cfg = B.config(B.binding(match={"namePattern": "myvm*"}, nat=B.ssh()),
                   scopes=(B.rg_id(), B.rg_id("rg2")))
    p = plan(cfg, B.snapshot(**estate))
    assert len(kinds(p, CreateNatRule)) == 1 and codes(p) == ["NatRuleNameCollision"]


# -- NAT rule V2 ----------------------------------------------------------------------------------------------------


def test_v2_one_rule_over_the_pool() -> None:
    p, after = converge(B.config(B.binding(nat=B.ssh(mode="v2"))), B.snapshot(**B.tutorial()))
    (r,) = kinds(p, EnsureNatRuleV2)
    assert (r.rule_name, r.frontend_port_range_start, r.frontend_port_range_end, r.backend_port, r.pool_id) == (
        "pk-web-22", 50001, 50100, 22, B.POOL_ID)
    assert not kinds(p, CreateNatRule) and not kinds(p, AssignNatRule)
    lb = after.load_balancer(B.LB_ID)
    assert lb is not None and lb.nat_rule("pk-web-22") is not None and lb.nat_rule("pk-web-22").is_v2  # type: ignore


def test_switch_v1_to_v2_removes_per_vm_rules() -> None:
    estate = _owned_estate()
    p, after = converge(B.config(B.binding(nat=B.ssh(mode="v2", start=51000, end=51099))), B.snapshot(**estate))
    assert len(kinds(p, UnassignNatRule)) == 3 and len(kinds(p, DeleteNatRule)) == 3
    assert len(kinds(p, EnsureNatRuleV2)) == 1
    assert set(rule_ports(after)) == {"pk-web-22"}


def test_v2_rule_removed_when_no_longer_configured() -> None:
    _, after = converge(B.config(B.binding(nat=B.ssh(mode="v2"))), B.snapshot(**B.tutorial()))
    p, after2 = converge(B.config(B.binding()), after)
    assert [(c.kind, c.rule_name) for c in p.changes] == [("DeleteNatRule", "pk-web-22")]
    assert rule_ports(after2) == {}
    # an event-driven run does not decide that
    assert plan(B.config(B.binding()), after, only={VM1}).is_empty


def test_v2_range_conflict_is_reported() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(nat_rules=[B.nat_rule("manual", 50050)])]
    p = plan(B.config(B.binding(nat=B.ssh(mode="v2"))), B.snapshot(**estate))
    assert not kinds(p, EnsureNatRuleV2) and codes(p) == ["NatRuleV2RangeConflict"]
    assert "50050" in p.findings[0].message


def test_v2_backend_port_shared_with_lb_rule_is_reported() -> None:
    nat = {**B.ssh(mode="v2"), "backendPort": 80}
    p = plan(B.config(B.binding(nat=nat)), B.snapshot(**B.tutorial(1)))
    assert codes(p) == ["BackendPortInUse"] and not kinds(p, EnsureNatRuleV2)


# -- Uniform scale sets ---------------------------------------------------------------------------------------------


def _vmss_estate(n: int = 5, *, pools: tuple[str, ...] = (), upgrade: str = "Manual",
                 latest: bool = True) -> dict[str, Any]:
    ss = B.scale_set(pools=pools, upgrade=upgrade)
    estate = B.tutorial(0)
    estate["scale_sets"] = [ss]
    estate["scale_set_instances"] = {ss["id"]: [B.instance(ss["id"], str(i), latest=latest) for i in range(n)]}
    return estate


def test_uniform_scale_set_model_then_upgrades_in_batches() -> None:
    cfg = B.config(B.binding(match={"scaleSet": "myScaleSet"}), upgradeBatchSize=2)
    p, after = converge(cfg, B.snapshot(**_vmss_estate(5)))
    assert [c.kind for c in p.changes] == ["SetScaleSetModelPool"] + ["UpgradeInstances"] * 3 + ["ClearUpgradeRecord"]
    (m,) = kinds(p, SetScaleSetModelPool)
    assert (m.nic_config, m.ip_config, m.pool_id) == ("myScaleSet-nic", "myScaleSet-ip", B.POOL_ID)
    assert m.record_instance_ids == ("0", "1", "2", "3", "4")  # recorded in the same PUT
    assert kinds(p, ClearUpgradeRecord)[0].instance_ids == ("0", "1", "2", "3", "4")
    assert [u.instance_ids for u in kinds(p, UpgradeInstances)] == [("0", "1"), ("2", "3"), ("4",)]
    assert all(u.batch_size == 2 for u in kinds(p, UpgradeInstances))
    ss = after.scale_set(B.compute_id("virtualMachineScaleSets", "myScaleSet"))
    assert ss is not None and all(i.latest_model_applied for i in ss.instances)


def test_uniform_scale_set_matched_by_tags_and_v1_becomes_v2() -> None:
    estate = _vmss_estate(2)
    estate["scale_sets"][0]["tags"] = {"tier": "web"}
    cfg = B.config(B.binding(match={"tags": {"tier": "web"}}, nat=B.ssh()))
    p, _ = converge(cfg, B.snapshot(**estate))
    assert len(kinds(p, EnsureNatRuleV2)) == 1 and not kinds(p, CreateNatRule)
    assert "NatRuleV1OnScaleSet" in codes(p)
    assert "never creates NAT pools" in next(r.message for r in p.findings if r.guardrail == "NatRuleV1OnScaleSet")


def test_out_of_date_instances_upgraded_only_when_poolkeeper_recorded_them() -> None:
    """Issue 9.9: instance 1 is stale and in poolkeeper's upgrade record (its model write, interrupted before the
    upgrade): upgraded, then the record is cleared. Instance 2 is stale for someone else's reason: reported."""
    estate = _vmss_estate(4, pools=(B.POOL_ID,))
    estate["scale_sets"][0]["tags"] = {"env": "prod", "poolkeeper.upgrade": "1,3"}  # 3: gone since
    estate["scale_set_instances"] = {k: [B.instance(k, "0"), B.instance(k, "1", latest=False),
                                         B.instance(k, "2", latest=False)] for k in estate["scale_set_instances"]}
    cfg = B.config(B.binding(match={"scaleSet": "myScaleSet"}))
    p = plan(cfg, B.snapshot(**estate))
    assert [u.instance_ids for u in kinds(p, UpgradeInstances)] == [("1",)]
    assert [c.instance_ids for c in kinds(p, ClearUpgradeRecord)] == [("1", "3")]
    assert codes(p) == ["ModelChangedBySomeoneElse"] and "instances 2 of myScaleSet" in p.findings[0].message
    after = apply_plan_to_snapshot(B.snapshot(**estate), p)
    ss = after.scale_set(B.compute_id("virtualMachineScaleSets", "myScaleSet"))
    assert ss is not None and dict(ss.tags) == {"env": "prod"}
    again = plan(cfg, after)
    assert again.is_empty and codes(again) == ["ModelChangedBySomeoneElse"]  # still reported, never rolled out


def test_someone_elses_model_change_is_reported_never_rolled_out() -> None:
    """Issue 9.9: the image changed in the model (every instance stale), the pool is already there: no upgrade."""
    estate = _vmss_estate(30, pools=(B.POOL_ID,), latest=False)
    p = plan(B.config(B.binding(match={"scaleSet": "myScaleSet"})), B.snapshot(**estate))
    assert p.is_empty
    assert codes(p) == ["ModelChangedBySomeoneElse"]
    assert "does not roll out other people's model changes" in p.findings[0].message


def test_own_model_change_upgrades_only_what_it_made_stale() -> None:
    """Instances already stale before poolkeeper's pool write (someone else's change) are neither recorded nor
    upgraded; only the ones its write makes stale, in batches of upgradeBatchSize."""
    estate = _vmss_estate(5)
    k = estate["scale_sets"][0]["id"]
    estate["scale_set_instances"][k][4] = B.instance(k, "4", latest=False)
    cfg = B.config(B.binding(match={"scaleSet": "myScaleSet"}), upgradeBatchSize=3)
    p = plan(cfg, B.snapshot(**estate))
    assert kinds(p, SetScaleSetModelPool)[0].record_instance_ids == ("0", "1", "2", "3")
    assert kinds(p, SetScaleSetModelPool)[0].model_etag == '"3"'
    assert [u.instance_ids for u in kinds(p, UpgradeInstances)] == [("0", "1", "2"), ("3",)]
    assert codes(p) == ["ModelChangedBySomeoneElse"] and "instances 4 " in p.findings[0].message


def test_apply_model_false_reports_instead_of_upgrading() -> None:
    cfg = B.config(B.binding(match={"scaleSet": "myScaleSet"}, applyModelToInstances=False))
    p = plan(cfg, B.snapshot(**_vmss_estate(2)))
    assert [c.kind for c in p.changes] == ["SetScaleSetModelPool"]
    assert codes(p) == ["InstancesOutOfDate"] and "0, 1" in p.findings[0].message
    # recorded, so later runs keep saying it is poolkeeper's change (not someone else's), until upgraded
    after = apply_plan_to_snapshot(B.snapshot(**_vmss_estate(2)), p)
    assert codes(plan(cfg, after)) == ["InstancesOutOfDate"]


def test_automatic_upgrade_policy_needs_no_manual_upgrade() -> None:
    p = plan(B.config(B.binding(match={"scaleSet": "myScaleSet"})), B.snapshot(**_vmss_estate(2, upgrade="Rolling")))
    assert [c.kind for c in p.changes] == ["SetScaleSetModelPool"]


def test_uniform_instance_nics_are_never_written() -> None:
    estate = _vmss_estate(1, pools=(B.POOL_ID,))
    ss_id = estate["scale_sets"][0]["id"]
    inst_nic = B.nic("nic", pools=(B.POOL_ID,), tags={"poolkeeper.binding": "web"})
    inst_nic["id"] = f"{ss_id}/virtualMachines/0/networkInterfaces/nic"
    estate["nics"] = [inst_nic]
    p = plan(B.config(B.binding(match={"namePattern": "nothing"})), B.snapshot(**estate))
    assert p == Plan()


def test_scale_set_in_other_vnet_is_refused() -> None:
    estate = _vmss_estate(1)
    estate["scale_sets"][0] = B.scale_set(subnet=B.subnet_id("elsewhere"))
    estate["vms"] = [B.vm("myVM1")]
    estate["nics"] = [B.nic("myNic1", vm=VM1, pools=(B.POOL_ID,))]
    p = plan(B.config(B.binding(match={"scaleSet": "myScaleSet"})), B.snapshot(**estate))
    assert p.is_empty and codes(p) == ["VirtualNetworkMismatch"]


# -- plan object ----------------------------------------------------------------------------------------------------


def test_plan_json_round_trip_and_grouping() -> None:
    estate = _owned_estate()
    estate["vms"] = [v for v in estate["vms"] if v["name"] != "myVM2"]
    estate["vms"].append(B.vm("myVM4"))
    estate["nics"].append(B.nic("myNic4", vm=B.compute_id("virtualMachines", "myVM4")))
    p = plan(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate))
    assert Plan.from_json(p.to_json()) == p
    d = p.to_dict()
    assert d["summary"]["JoinPool"] == 1 and d["empty"] is False
    assert d["changes"][0]["kind"] == "UnassignNatRule" and "description" in d["changes"][0]
    batches = p.group_by_resource()
    assert [(b.stage, b.target_kind, b.resource_id.rsplit("/", 1)[-1], len(b.changes)) for b in batches] == [
        ("nic-release", "networkInterface", "myNic2", 2),
        ("load-balancer", "loadBalancer", "myLoadBalancer", 2),
        ("nic-join", "networkInterface", "myNic4", 2),
    ]
    lb_batch = batches[1].changes
    assert {c.kind for c in lb_batch} == {"DeleteNatRule", "CreateNatRule"}
    # myVM2's port is freed by the delete in the same load-balancer write and handed to myVM4
    assert kinds(p, CreateNatRule)[0].frontend_port == 50002
    assert all(c.describe() for c in p.changes)


def test_plan_dedupes_same_write() -> None:
    a = LeavePool(nic_id=NIC1, ip_configuration="ipConfig1", pool_id=B.POOL_ID, binding="x", reason="one")
    b = LeavePool(nic_id=NIC1, ip_configuration="ipConfig1", pool_id=B.POOL_ID, binding="x", reason="two")
    r = planner_finding("C", VM1, "m", binding="")
    p = Plan.of([a, b], [r, dataclasses.replace(r, binding="other")])  # the same finding for another binding
    assert p.changes == (a,) and p.findings == (r,) and not p.is_empty and Plan.of([], [r]).is_empty


def test_only_with_a_scale_set_instance_id_plans_its_scale_set() -> None:
    estate = _vmss_estate(2)
    ss_id = estate["scale_sets"][0]["id"]
    cfg = B.config(B.binding(match={"scaleSet": "myScaleSet"}))
    p = plan(cfg, B.snapshot(**estate), only={f"{ss_id}/virtualMachines/1".lower()})
    assert [c.kind for c in p.changes] == ["SetScaleSetModelPool", "UpgradeInstances", "ClearUpgradeRecord"]
    assert plan(cfg, B.snapshot(**estate), only={VM1}) == Plan()


def test_basic_lb_refuses_scale_set_next_to_availability_set() -> None:
    estate = _vmss_estate(1)
    estate["vms"], estate["nics"] = [B.vm("myVM1")], [B.nic("myNic1", vm=VM1, pools=(B.POOL_ID,))]
    estate["load_balancers"] = [B.load_balancer(sku="Basic")]
    p = plan(B.config(B.binding(match={"scaleSet": "myScaleSet"})), B.snapshot(**estate))
    assert p.is_empty and codes(p) == ["BasicSkuAvailabilitySetMix"]


# -- issue 9: pk- rules are poolkeeper's by name ------------------------------------------------------------------


def test_deleted_vm_rule_released_when_the_operator_pooled_the_nic() -> None:
    """Issue 9.1: the tutorial's NICs are in the pool by the operator (no ownership tag); poolkeeper still owns the
    ``pk-`` rules it created for them and releases rule and port when the VM is gone. The NIC stays in the pool."""
    cfg = B.config(B.binding(nat=B.ssh()))
    _, after = converge(cfg, B.snapshot(**B.tutorial(joined=True)))
    estate = after.to_arm()
    estate["vms"] = [v for v in estate["vms"] if v["name"] != "myVM2"]
    del next(n for n in estate["nics"] if n["name"] == "myNic2")["properties"]["virtualMachine"]
    p, released = converge(cfg, B.snapshot(**estate))
    assert [c.kind for c in p.changes] == ["UnassignNatRule", "DeleteNatRule"]
    assert kinds(p, DeleteNatRule)[0].rule_name == "pk-myVM2-22"
    assert rule_ports(released) == {"pk-myVM1-22": 50001, "pk-myVM3-22": 50003}
    nic2 = released.nic(B.net_id("networkInterfaces", "myNic2"))
    assert nic2 is not None and nic2.primary_ip_configuration is not None
    assert nic2.primary_ip_configuration.in_pool(B.POOL_ID)  # the operator's membership is not poolkeeper's
    assert "poolkeeper.binding" not in nic2.tags
    # the port is free again: the next VM gets 50002
    released_estate = released.to_arm()
    released_estate["vms"].append(B.vm("myVM5"))
    released_estate["nics"].append(B.nic("myNic5", vm=B.compute_id("virtualMachines", "myVM5"), pools=(B.POOL_ID,)))
    _, final = converge(cfg, B.snapshot(**released_estate))
    assert rule_ports(final)["pk-myVM5-22"] == 50002


def test_foreign_rule_on_an_operator_nic_is_never_released() -> None:
    cfg = B.config(B.binding(nat=B.ssh()))
    estate = B.tutorial(1, joined=True)
    manual = f"{B.LB_ID}/inboundNatRules/manual-22"
    estate["load_balancers"] = [B.load_balancer(nat_rules=[
        B.nat_rule("manual-22", 50001, backend_ip_configuration=B.ipconfig_id("myNic1"))])]
    estate["nics"][0]["properties"]["ipConfigurations"][0]["properties"]["loadBalancerInboundNatRules"] = [
        {"id": manual}]
    estate["vms"] = []
    del estate["nics"][0]["properties"]["virtualMachine"]
    assert plan(cfg, B.snapshot(**estate)) == Plan()


def test_plan_scoped_to_a_binding_keeps_the_deletion_whose_port_it_reuses() -> None:
    """Issue 9.8: an orphaned rule's deletion serves no binding, but frees the port the binding's new rule takes;
    scoped to the binding, the plan must keep both (filtering a finished plan dropped the deletion)."""
    estate = B.tutorial(1, joined=True)
    estate["load_balancers"] = [B.load_balancer(nat_rules=[
        B.nat_rule("pk-old-22", 50001, backend_ip_configuration=B.ipconfig_id("goneNic")),
        B.nat_rule("pk-other-22", 50007, backend_ip_configuration=B.ipconfig_id("goneNic2"))])]
    cfg = B.config(B.binding(nat=B.ssh()), B.binding("db", match={"namePattern": "none"}))
    snap = B.snapshot(**estate)
    full = plan(cfg, snap)
    scoped = plan(cfg, snap, binding="web")
    assert kinds(scoped, CreateNatRule)[0].frontend_port == 50001
    assert [c.rule_name for c in kinds(scoped, DeleteNatRule)] == ["pk-old-22"]  # needed; pk-other-22 is not
    assert set(scoped.changes) < set(full.changes)
    assert plan(cfg, snap, binding="db").is_empty
    after = apply_plan_to_snapshot(snap, scoped)
    assert rule_ports(after) == {"pk-myVM1-22": 50001, "pk-other-22": 50007}
    assert plan(cfg, after, binding="web").is_empty


def test_v2_on_a_basic_load_balancer_is_reported_not_planned() -> None:
    """Issue 9.11: the reconcile path refuses a NAT rule V2 on a Basic load balancer, as `natpool migrate` does
    (one rule: poolkeeper.natrules.nat_rule_v2_refusal)."""
    cfg = B.config(B.binding(nat=B.ssh("v2")))
    p = plan(cfg, B.snapshot(**B.tutorial(2, sku="Basic")))
    assert not kinds(p, EnsureNatRuleV2)
    assert codes(p) == ["NatRuleV2RequiresStandardSku"]
    assert len(kinds(p, JoinPool)) == 2  # pool membership is still managed
    # scale sets get a V2 rule whatever the mode: refused the same way
    estate = _vmss_estate(1)
    estate["load_balancers"] = [B.load_balancer(sku="Basic")]
    p2 = plan(B.config(B.binding(match={"scaleSet": "myScaleSet"}, nat=B.ssh())), B.snapshot(**estate))
    assert not kinds(p2, EnsureNatRuleV2) and "NatRuleV2RequiresStandardSku" in codes(p2)


def test_nat_pool_messages_state_the_retirement_correctly() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(nat_pools=[B.nat_pool("p", 50000, 50099)])]
    (r,) = plan(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate)).findings
    assert "retires inbound NAT pools on 2027-09-30" in r.message
    assert "single-VM inbound NAT rules V1 are not affected" in r.message
