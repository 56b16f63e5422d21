"""Limits (issue 12), pure: the cut keeps dependent changes together and defers the rest in plan order; the breaker
trips on the error rate only after its minimum of writes; the configuration validates every field with its path."""

from __future__ import annotations

import pytest

from poolkeeper.changes import AssignNatRule, CreateNatRule, DeleteNatRule, JoinPool, Plan, UnassignNatRule
from poolkeeper.config import ConfigError, Limits, parse_config
from poolkeeper.findings import planner_finding
from poolkeeper.limits import MAX_FAILURE_STREAK, Breaker, cut, units

LB = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb"
POOL = f"{LB}/backendAddressPools/pool"
FE = f"{LB}/frontendIPConfigurations/fe"


def nic(i: int) -> str:
    return f"/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/networkInterfaces/nic{i}"


def vm_changes(i: int) -> list:
    rule = f"pk-vm{i}-22"
    return [JoinPool(nic_id=nic(i), ip_configuration="ipconfig1", pool_id=POOL, owner_tag="web", binding="web",
                     reason="drift"),
            CreateNatRule(lb_id=LB, rule_name=rule, frontend_ip_configuration_id=FE, protocol="Tcp",
                          frontend_port=50001 + i, backend_port=22, binding="web", reason="drift"),
            AssignNatRule(nic_id=nic(i), ip_configuration="ipconfig1", rule_id=f"{LB}/inboundNatRules/{rule}",
                          binding="web", reason="drift")]


def test_a_nat_rule_creation_and_its_nic_assignment_are_one_unit() -> None:
    plan = Plan.of([c for i in range(3) for c in vm_changes(i)])
    groups = units(plan.changes)
    assert len(groups) == 3
    for g in groups:
        assert {type(c) for c in g} == {JoinPool, CreateNatRule, AssignNatRule}
        assert len({c.target_id for c in g if c.target_kind == "networkInterface"}) == 1


def test_an_unassignment_and_the_rule_deletion_stay_together() -> None:
    rule = f"{LB}/inboundNatRules/pk-old-22"
    plan = Plan.of([UnassignNatRule(nic_id=nic(9), ip_configuration="ipconfig1", rule_id=rule, binding="web",
                                    reason="release"),
                    DeleteNatRule(lb_id=LB, rule_name="pk-old-22", binding="web", reason="release")])
    assert len(units(plan.changes)) == 1


def test_fifty_drifted_vms_with_ten_per_run_defer_forty_units_in_plan_order() -> None:
    plan = Plan.of([c for i in range(50) for c in vm_changes(i)])
    kept, deferred = cut(plan, Limits(max_changes_per_run=10), {"networkInterface": 50})
    assert len(units(kept.changes)) == 10 and len(kept.changes) == 30
    assert len(deferred) == 40 and {d.limit for d in deferred} == {"maxChangesPerRun"}
    kept_nics = {c.target_id for c in kept.changes if c.target_kind == "networkInterface"}
    assert kept_nics == {nic(i) for i in range(10)}
    # every kept rule creation has its assignment (nothing half-done)
    created = {c.rule_id for c in kept.changes if isinstance(c, CreateNatRule)}
    assigned = {c.rule_id for c in kept.changes if isinstance(c, AssignNatRule)}
    assert created == assigned


def test_percent_of_a_kind_and_reports_are_never_cut() -> None:
    report = planner_finding("Something", nic(99), "x", binding="web")
    plan = Plan.of([c for i in range(8) for c in vm_changes(i)], [report])
    kept, deferred = cut(plan, Limits(max_changes_percent=25), {"networkInterface": 8})
    assert len(units(kept.changes)) == 2 and len(deferred) == 6
    assert kept.findings == (report,)
    assert deferred[0].limit == "maxChangesPercent" and "25% of 8" in deferred[0].reason


def test_no_limits_is_the_plan_unchanged() -> None:
    plan = Plan.of(vm_changes(0))
    assert cut(plan, Limits(), {}) == (plan, [])


def test_breaker_trips_on_the_rate_only_after_the_minimum() -> None:
    b = Breaker(error_rate=0.5, min_writes=4)
    assert [b.record(False) for _ in range(3)] == [False, False, False]  # 100 % failed, but only 3 writes
    assert b.record(False) is True and b.tripped
    assert b.record(True) is False  # trips once
    b2 = Breaker(error_rate=0.5, min_writes=2)
    assert [b2.record(ok) for ok in (True, False, True, False)] == [False, False, False, False]  # 50 % is not > 50 %


def test_limits_configuration_is_validated_with_field_paths() -> None:
    base = {"scopes": ["/subscriptions/s"]}
    cfg = parse_config({**base, "limits": {"maxChangesPerRun": 10, "maxChangesPercent": 5, "breakerErrorRate": 0.2,
                                           "breakerMinWrites": 3, "minInRotation": 2}})
    assert cfg.limits == Limits(10, 5.0, 0.2, 3, 2)
    assert parse_config(base).limits == Limits()
    with pytest.raises(ConfigError) as err:
        parse_config({**base, "limits": {"maxChangesPerRun": 0, "breakerErrorRate": 2, "maxChanges": 1}})
    text = str(err.value)
    assert "limits.maxChangesPerRun: 0 is out of range" in text
    assert "limits.breakerErrorRate: 2 is out of range" in text
    assert "limits: unknown key(s) 'maxChanges'" in text


def test_binding_repair_option_is_validated() -> None:
    binding = {"name": "web", "match": {"availabilitySet": "av"}, "backendPool": "pool",
               "loadBalancer": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb"}
    assert parse_config({"scopes": ["/subscriptions/s"], "bindings": [binding]}).bindings[0].repair == "never"
    assert parse_config({"scopes": ["/subscriptions/s"],
                         "bindings": [{**binding, "repair": "always"}]}).bindings[0].repair == "always"
    with pytest.raises(ConfigError, match=r"bindings\[0\].repair: must be one of never, always"):
        parse_config({"scopes": ["/subscriptions/s"], "bindings": [{**binding, "repair": "sometimes"}]})


def test_a_long_record_of_successes_does_not_hide_a_failure_streak() -> None:
    """A coalesced chain shares one breaker (issue 13): 500 successes must not buy 500 refusals."""
    b = Breaker(error_rate=0.5, min_writes=5, max_streak=10)
    assert not any(b.record(True) for _ in range(500))
    assert [b.record(False) for _ in range(10)] == [False] * 9 + [True]
    assert b.failures / b.writes < 0.5  # the rate alone would not have tripped
    fresh = Breaker.of(Limits())
    assert fresh.max_streak == MAX_FAILURE_STREAK
    assert not any(fresh.record(ok) for ok in [True] * 1000 + [False] * (MAX_FAILURE_STREAK - 1))
    assert fresh.record(False) is True


def test_a_success_ends_the_streak() -> None:
    b = Breaker(error_rate=0.9, min_writes=5, max_streak=3)
    assert not any(b.record(ok) for ok in [True] * 20 + [False, False, True, False, False, True])
    assert b.record(False) is False and b.record(False) is False and b.record(False) is True
