"""The enforcement screen over real plans from the planner: enforce drops the violating changes, audit keeps them."""

from __future__ import annotations

from poolkeeper.changes import AssignNatRule, CreateNatRule, JoinPool, Plan
from poolkeeper.findings import planner_finding
from poolkeeper.guardrails.screen import screen, screen_findings, screen_parts
from poolkeeper.planner import plan
from tests.unit.builders import compute_id, nic, vm
from tests.unit.guardrails.estate import PIP_ID, clean, clean_config, snap


def _new_vm(public_ip: bool, nsg: bool = True) -> dict:
    e = clean()
    e["vms"].append(vm("myVM4"))
    n = nic("myNic4", vm=compute_id("virtualMachines", "myVM4"))
    if public_ip:
        n["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"] = {"id": PIP_ID + "4"}
    if nsg:
        n["properties"]["networkSecurityGroup"] = {"id": e["nsgs"][0]["id"]}
    e["nics"].append(n)
    return e


def test_pk001_enforce_refuses_the_join_and_the_nat_wiring_of_that_nic() -> None:
    e = _new_vm(public_ip=True)
    cfg = clean_config(PK001={"mode": "enforce"})
    s = snap(e)
    p = plan(cfg, s)
    assert {c.kind for c in p.changes} == {"JoinPool", "CreateNatRule", "AssignNatRule"}
    p = Plan.of(p.changes, [planner_finding("SomeRule", PIP_ID, "flagged", binding="web")])
    allowed, refusals = screen(p, s, cfg)
    assert allowed.changes == () and allowed.findings == p.findings  # the planner's findings are not screened away
    [r] = refusals
    assert r.guardrail == "PK001" and r.mode == "enforce" and r.resource_id.endswith("myNic4")


def test_pk001_audit_keeps_the_plan_and_notes_it() -> None:
    e = _new_vm(public_ip=True)
    cfg = clean_config()
    s = snap(e)
    p = plan(cfg, s)
    allowed, refusals, notes = screen_findings(p, s, cfg)
    assert allowed == p and refusals == [] and [n.guardrail for n in notes] == ["PK001"]
    assert notes[0].mode == "audit"


def test_a_clean_join_passes() -> None:
    e = _new_vm(public_ip=False)
    cfg = clean_config(PK001={"mode": "enforce"}, PK006={"mode": "enforce"})
    s = snap(e)
    p = plan(cfg, s)
    allowed, refusals = screen(p, s, cfg)
    assert refusals == [] and allowed == p and len(p.changes) == 3


def test_pk006_enforce_refuses_a_management_nat_rule_to_an_open_backend() -> None:
    e = _new_vm(public_ip=False, nsg=False)
    e["load_balancers"][0]["sku"] = {"name": "Basic"}  # Basic: no NSG means open
    cfg = clean_config(PK006={"mode": "enforce"})
    s = snap(e)
    p = plan(cfg, s)
    allowed, refusals = screen(p, s, cfg)
    assert [r.guardrail for r in refusals] == ["PK006"]
    assert [type(c) for c in allowed.changes] == [JoinPool]
    assert not any(isinstance(c, CreateNatRule | AssignNatRule) for c in allowed.changes)


def test_screen_skips_a_guardrail_whose_parts_were_not_read() -> None:
    e = _new_vm(public_ip=False, nsg=False)
    e["load_balancers"][0]["sku"] = {"name": "Basic"}
    del e["nsgs"], e["virtual_networks"]
    cfg = clean_config()  # PK006 in audit: the reconciler does not read NSGs for it
    assert screen_parts(cfg) == frozenset()
    assert screen_parts(clean_config(PK006={"mode": "enforce"})) == {"nsgs", "virtual_networks"}
    s = snap(e)
    _, refusals, notes = screen_findings(plan(cfg, s), s, cfg)
    assert refusals == [] and notes == []


def test_plan_output_lists_the_refusal() -> None:
    import io

    from poolkeeper.cli import print_outcome
    from poolkeeper.reconciler import ReconcileOutcome

    e = _new_vm(public_ip=True)
    cfg = clean_config(PK001={"mode": "enforce"})
    s = snap(e)
    allowed, refusals = screen(plan(cfg, s), s, cfg)
    out = io.StringIO()
    print_outcome(ReconcileOutcome("sub", "corr", True, allowed, findings=refusals), out)
    assert "REFUSED PK001 myNic4: NIC myNic4 is in backend pool myBackEndPool and has public IP" in out.getvalue()
    assert "JoinPool" not in out.getvalue()
