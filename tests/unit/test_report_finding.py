"""One Finding (issue 10): a planner report is a Finding carried in a plan, with the same JSON shape as the guardrail
findings of ``poolkeeper check`` and of a reconcile's ``findings``."""

from __future__ import annotations

from poolkeeper.changes import Plan, Report
from poolkeeper.findings import Finding

VM = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/myVM1"


def test_a_report_is_a_finding_in_a_plan() -> None:
    r = Report(subject_id=VM, message="port range exhausted", code="PortRangeExhausted", binding="web",
               reason="port range exhausted", fix="widen frontendPortRange")
    assert r.finding == Finding(guardrail="PortRangeExhausted", severity="medium", mode="audit", resource_id=VM,
                                message="port range exhausted", fix="widen frontendPortRange", binding="web")
    data = r.to_dict()
    assert set(r.finding.to_dict()) <= set(data)  # every key a guardrail finding has
    assert Finding.from_dict(data) == r.finding
    # the plan's keys, as before
    assert data["kind"] == "Report" and data["code"] == "PortRangeExhausted" and data["subjectId"] == VM
    assert data["description"] == r.describe() and data["reason"] == "port range exhausted"


def test_reports_survive_the_plan_json_round_trip() -> None:
    r = Report(subject_id=VM, message="m", code="C", binding="", reason="m", severity="high")
    plan = Plan.of([r])
    assert Plan.from_json(plan.to_json()) == plan and plan.reports[0].finding.severity == "high"
