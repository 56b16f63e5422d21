"""The planner tests' simulated ARM refuses what Azure refuses, so a plan in the wrong order fails them."""

from __future__ import annotations

import pytest

from poolkeeper.changes import AssignNatRule, CreateNatRule, DeleteNatRule, JoinPool, Plan

from . import builders as B
from .arm_apply import Refused, apply_plan_to_snapshot

NIC1 = B.net_id("networkInterfaces", "myNic1")
RULE = f"{B.LB_ID}/inboundNatRules/pk-myVM1-22"


def create() -> CreateNatRule:
    return CreateNatRule(lb_id=B.LB_ID, rule_name="pk-myVM1-22", frontend_ip_configuration_id=B.FE_ID,
                         protocol="Tcp", frontend_port=50001, backend_port=22, binding="web", reason="r")


def assign(nic: str = NIC1) -> AssignNatRule:
    return AssignNatRule(nic_id=nic, ip_configuration="ipConfig1", rule_id=RULE, binding="web", reason="r")


def test_a_rule_is_assigned_after_it_is_created_and_gets_its_back_reference() -> None:
    after = apply_plan_to_snapshot(B.snapshot(**B.tutorial(1)), Plan.of([assign(), create()]))
    lb = after.load_balancer(B.LB_ID)
    assert lb is not None
    rule = lb.nat_rule("pk-myVM1-22")
    assert rule is not None and rule.frontend_port == 50001
    assert rule.backend_ip_configuration_id == B.ipconfig_id("myNic1")


def test_assigning_a_rule_that_does_not_exist_is_refused() -> None:
    with pytest.raises(Refused, match="does not exist"):
        apply_plan_to_snapshot(B.snapshot(**B.tutorial(1)), Plan((assign(),)))


def test_deleting_a_rule_a_nic_references_is_refused() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(nat_rules=[B.nat_rule("pk-myVM1-22", 50001,
                                                                      backend_ip_configuration=B.ipconfig_id("myNic1"))])]
    estate["nics"] = [B.nic("myNic1", vm=B.compute_id("virtualMachines", "myVM1"), nat_rules=(RULE,))]
    delete = DeleteNatRule(lb_id=B.LB_ID, rule_name="pk-myVM1-22", binding="web", reason="r")
    with pytest.raises(Refused, match="does not exist"):
        apply_plan_to_snapshot(B.snapshot(**estate), Plan((delete,)))


def test_one_per_vm_rule_for_two_nics_is_refused() -> None:
    nic2 = B.net_id("networkInterfaces", "myNic2")
    with pytest.raises(Refused, match="is used by"):
        apply_plan_to_snapshot(B.snapshot(**B.tutorial(2)), Plan.of([create(), assign(), assign(nic2)]))


def test_nat_rules_cannot_be_added_while_a_nat_pool_exists() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(nat_pools=[B.nat_pool("MyNatPool", 60000, 60119)])]
    with pytest.raises(Refused, match="NatPoolIsPresent"):
        apply_plan_to_snapshot(B.snapshot(**estate), Plan((create(),)))


def test_a_uniform_instance_nic_cannot_be_written() -> None:
    ss = B.compute_id("virtualMachineScaleSets", "myScaleSet")
    join = JoinPool(nic_id=f"{ss}/virtualMachines/0/networkInterfaces/nic", ip_configuration="ipConfig1",
                    pool_id=B.POOL_ID, owner_tag="web", binding="web", reason="r")
    with pytest.raises(Refused, match="Uniform instance NIC"):
        apply_plan_to_snapshot(B.snapshot(**B.tutorial(1)), Plan((join,)))
