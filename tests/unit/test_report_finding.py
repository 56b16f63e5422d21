"""One Finding (issue 10): what the planner refuses or only flags is a ``findings.Finding`` carried in the plan next
to its changes, with the same JSON shape as the guardrail findings of ``poolkeeper check`` and of a reconcile's
``findings``."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from poolkeeper.changes import CHANGE_TYPES, Plan
from poolkeeper.findings import Finding, planner_finding
from poolkeeper.planner import plan

from . import builders as B

VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/myVM1"


def test_a_planner_finding_is_a_finding() -> None:
    f = planner_finding("PortRangeExhausted", VM, "port range exhausted", binding="web")
    assert f == Finding(guardrail="PortRangeExhausted", severity="medium", mode="audit", resource_id=VM,
                        message="port range exhausted", binding="web")
    assert Finding.from_dict(f.to_dict()) == f
    assert "Report" not in CHANGE_TYPES


def test_findings_survive_the_plan_json_round_trip() -> None:
    f = dataclasses.replace(planner_finding("C", VM, "m", binding=""), severity="high", fix="do this")
    p = Plan.of([], [f])
    assert Plan.from_json(p.to_json()) == p and p.findings[0].severity == "high"
    data = p.to_dict()
    assert data["changes"] == [] and data["empty"] is True
    assert data["findings"] == [{"guardrail": "C", "severity": "high", "mode": "audit", "resourceId": VM,
                                 "message": "m", "evidence": {}, "fix": "do this", "binding": ""}]


def test_the_planners_refusals_are_findings_in_its_plan() -> None:
    estate = B.tutorial(1)
    estate["load_balancers"] = [B.load_balancer(nat_pools=[B.nat_pool("p", 50000, 50099)])]
    p = plan(B.config(B.binding(nat=B.ssh())), B.snapshot(**estate))
    (f,) = p.findings
    assert isinstance(f, Finding) and f.guardrail == "NatPoolPresent" and f.mode == "audit"
    assert f.resource_id == B.LB_ID and f.binding == "web" and "natpool migrate" in f.message
    assert [c.kind for c in p.changes] == ["JoinPool"]  # membership is still managed


def test_the_run_report_lists_planner_findings_in_the_finding_shape() -> None:
    """Report schema 2.0: ``changes.reports`` are findings (rule, resource, message, fix), validated by the schema."""
    import jsonschema

    from poolkeeper.reconciler import ReconcileOutcome
    from poolkeeper.report import SCHEMA_VERSION, build_report, schema

    f = dataclasses.replace(planner_finding("NatPoolPresent", B.LB_ID, "migrate first", binding="web"),
                            fix="poolkeeper natpool migrate")
    outcome = ReconcileOutcome("s", "corr-1", True, Plan.of([], [f]))
    config = B.config(B.binding())
    data = build_report("reconcile", [outcome], [], [], config=config, started=datetime.now(UTC)).to_dict()
    jsonschema.validate(data, schema())
    assert data["schemaVersion"] == SCHEMA_VERSION == "2.0" and data["summary"]["reports"] == 1
    assert data["changes"]["reports"] == [f.to_dict()] and data["changes"]["planned"] == []
    (shown,) = data["changes"]["reports"]
    assert (shown["guardrail"], shown["resourceId"], shown["message"], shown["fix"]) == (
        "NatPoolPresent", B.LB_ID, "migrate first", "poolkeeper natpool migrate")
