"""One report object per run (sweep or reconcile): what was found, changed, deferred and refused, and what it cost.

The JSON shape is versioned (:data:`SCHEMA_VERSION`) and documented by ``poolkeeper/report.schema.json`` (a JSON
Schema shipped in the package; the tests validate every report against it). A change to the shape that removes or
renames a field bumps the major version. Renderers: :mod:`poolkeeper.report_render` (``rich`` tables, HTML).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from poolkeeper.config import Config
from poolkeeper.findings import Finding
from poolkeeper.model import Snapshot
from poolkeeper.reconciler import ReconcileOutcome
from poolkeeper.report_topology import topology

#: 2.0: ``changes.reports`` holds the planner's findings in the one finding shape (``guardrail``, ``resourceId``,
#: ``message``, ``fix`` …); 1.x had them as changes of kind ``Report`` (``code``, ``subjectId``, ``description``)
SCHEMA_VERSION = "2.0"
SCHEMA_ID = "https://poolkeeper.example/schemas/run-report/2.0"


def schema() -> dict[str, Any]:
    """The report's JSON Schema (``poolkeeper/report.schema.json``)."""
    return dict(json.loads(resources.files("poolkeeper").joinpath("report.schema.json").read_text("utf-8")))


@dataclass
class RunReport:
    kind: str  # "sweep" or "reconcile"
    dry_run: bool
    started_at: str
    finished_at: str
    summary: dict[str, Any]
    findings: list[dict[str, Any]]
    changes: dict[str, list[dict[str, Any]]]
    limits: dict[str, Any]
    arm_calls: dict[str, int]
    correlation_ids: list[str]
    operations: list[dict[str, Any]] = field(default_factory=list)
    topology: list[dict[str, Any]] = field(default_factory=list)

    def findings_by_guardrail(self) -> dict[str, list[dict[str, Any]]]:
        out: dict[str, list[dict[str, Any]]] = {}
        for f in self.findings:
            out.setdefault(f["guardrail"], []).append(f)
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {"schemaVersion": SCHEMA_VERSION, "$schema": SCHEMA_ID, "kind": self.kind, "dryRun": self.dry_run,
                "startedAt": self.started_at, "finishedAt": self.finished_at, "summary": self.summary,
                "findingsByGuardrail": self.findings_by_guardrail(), "changes": self.changes, "limits": self.limits,
                "armCalls": self.arm_calls, "correlationIds": self.correlation_ids, "operations": self.operations,
                "topology": self.topology}


def _limits_config(config: Config) -> dict[str, Any]:
    lim = config.limits
    return {"maxChangesPerRun": lim.max_changes_per_run, "maxChangesPercent": lim.max_changes_percent,
            "breakerErrorRate": lim.breaker_error_rate, "breakerMinWrites": lim.breaker_min_writes,
            "minInRotation": lim.min_in_rotation}


def build_report(kind: str, outcomes: Sequence[ReconcileOutcome], findings: Sequence[Finding],
                 snapshots: Sequence[Snapshot], *, config: Config, started: datetime,
                 operations: Sequence[Mapping[str, Any]] = ()) -> RunReport:
    """Fold a run's outcomes (one per subscription) into its report. Pure apart from the finish time."""
    applied: list[dict[str, Any]] = []
    planned: list[dict[str, Any]] = []
    deferred: list[dict[str, Any]] = []
    refused: list[dict[str, Any]] = []
    reports: list[dict[str, Any]] = []
    tripped: list[dict[str, Any]] = []
    calls: dict[str, int] = {}
    for o in outcomes:
        planned += [c.to_dict() for c in o.plan.changes]
        reports += [f.to_dict() for f in o.plan.findings]
        deferred += [d.to_dict() for d in o.deferred]
        refused += [{"guardrail": f.guardrail, "resourceId": f.resource_id, "reason": f.message, "fix": f.fix}
                    for f in o.findings if f.mode == "enforce"]
        if o.result is not None:
            applied += [c.to_dict() for c in o.result.applied]
            refused += [{"azure": True, "resourceId": x["resource"], "code": x["code"], "reason": x["message"],
                         "changes": x["changes"]} for x in o.result.failed]
        for name, n in o.arm_calls.items():
            calls[name] = calls.get(name, 0) + n
        if o.breaker is not None and o.breaker.tripped:
            tripped.append({"limit": "breaker", **o.breaker.to_dict()})
    for limit in sorted({d["limit"] for d in deferred}):
        tripped.append({"limit": limit, "deferredUnits": sum(1 for d in deferred if d["limit"] == limit)})
    by_rule: dict[str, int] = {}
    for f in findings:
        by_rule[f.guardrail] = by_rule.get(f.guardrail, 0) + 1
    pictures = [lb for s in snapshots for lb in topology(s, findings, config.bindings)]
    drained = sum(1 for lb in pictures for p in lb["pools"] for m in p["members"] if m["drained"])
    summary = {
        "findings": len(findings), "findingsByGuardrail": dict(sorted(by_rule.items())),
        "changesPlanned": len(planned), "changesApplied": len(applied),
        "changesDeferred": sum(len(d["changes"]) for d in deferred), "unitsDeferred": len(deferred),
        "changesRefused": len(refused), "reports": len(reports),
        "writes": sum(o.result.writes for o in outcomes if o.result),
        "breakerTripped": any(t["limit"] == "breaker" for t in tripped),
        "armReads": calls.get("read", 0), "armWrites": calls.get("write", 0) + calls.get("delete", 0),
        "drainedMembers": drained, "operations": len(operations),
    }
    return RunReport(
        kind=kind, dry_run=all(o.dry_run for o in outcomes) if outcomes else True,
        started_at=started.isoformat(timespec="seconds"),
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        summary=summary, findings=[f.to_dict() for f in findings],
        changes={"planned": planned, "applied": applied, "deferred": deferred, "refused": refused,
                 "reports": reports},
        limits={"configured": _limits_config(config), "tripped": tripped}, arm_calls=calls,
        correlation_ids=[o.correlation_id for o in outcomes], operations=[dict(x) for x in operations],
        topology=pictures,
    )


# the latest report of this process (GET /api/report/latest)
_latest: RunReport | None = None
_lock = threading.Lock()


def remember(report: RunReport) -> None:
    global _latest
    with _lock:
        _latest = report


def latest() -> RunReport | None:
    with _lock:
        return _latest
