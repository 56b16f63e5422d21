"""The compliance sweep: one run over every scope that finds, repairs (within limits) and reports.

For each subscription it reads one snapshot with paged LIST calls only (VMs, NICs, load balancers, scale sets and
their instances, plus the network parts the enabled guardrails need — never a GET per resource), runs every enabled
guardrail, adds the safe fixes of enforce-mode findings (the registry's ``fix``: PK012's ``pk-`` orphans, PK013's
drift) to the bindings' reconcile plan, cuts it to the configured ``limits``, applies it under the breaker (unless a
dry run), and resumes NAT-pool operations whose intent is recorded on a load balancer. The result is one
:class:`~poolkeeper.report.RunReport` (``docs/report.schema.json``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from poolkeeper.changes import Change, DeleteNatRule, Plan
from poolkeeper.config import Config
from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import REGISTRY, View
from poolkeeper.guardrails.runner import needed_parts, run_checks, selected
from poolkeeper.guardrails.settings import GuardrailSetting, effective
from poolkeeper.ids import id_key
from poolkeeper.logs import get_logger
from poolkeeper.model import Snapshot
from poolkeeper.reconciler import ReconcileOutcome, Reconciler
from poolkeeper.report import RunReport, build_report, remember

if TYPE_CHECKING:
    from poolkeeper.workflows.operations import Workflows

log = get_logger("sweep")


def enforce_fixes(findings: Sequence[Finding]) -> list[Change]:
    """The changes that repair enforce-mode findings, where their guardrail has a safe fix."""
    out: list[Change] = []
    for f in findings:
        g = REGISTRY.get(f.guardrail)
        if f.mode == "enforce" and g is not None and g.fix is not None:
            out += g.fix(f)
    return out


def with_who_and_when(findings: Sequence[Finding], nic_writes: dict[str, dict[str, str]]) -> list[Finding]:
    """PK013 "removed by someone else" findings name the last foreign write to the NIC, when an event showed it."""
    out = []
    for f in findings:
        seen = nic_writes.get(id_key(f.resource_id))
        if f.evidence.get("kind") == "removedByPerson" and seen:
            f = dataclasses.replace(f, evidence={**f.evidence, "removedBy": seen["by"], "removedAt": seen["at"],
                                                 "correlationId": seen["correlationId"]})
        out.append(f)
    return out


@dataclasses.dataclass
class _Capture:
    """What the first round of a subscription's reconcile saw: its snapshot and the findings on it."""

    settings: list[GuardrailSetting]
    config: Config
    snapshot: Snapshot | None = None
    findings: list[Finding] = dataclasses.field(default_factory=list)

    def extend(self, snapshot: Snapshot, plan: Plan) -> Plan:
        findings = run_checks(View(snapshot, self.config), self.settings)
        if self.snapshot is None:
            self.snapshot, self.findings = snapshot, findings
        # a deleting fix only where the planner deletes too: the planner keeps what it must (a drained or held VM's
        # NAT rule looks orphaned to PK012 but is still the VM's)
        planned = {c.identity for c in plan.changes}
        fixes = [c for c in enforce_fixes(findings) if not isinstance(c, DeleteNatRule) or c.identity in planned]
        return plan.with_changes([*plan.changes, *fixes]) if fixes else plan


def run_sweep(reconciler: Reconciler, *, apply: bool, workflows: Workflows | None = None) -> RunReport:
    """One sweep; ``workflows`` is the composition root's service (built over the reconciler's clients if absent)."""
    config = reconciler.config
    started = datetime.now(UTC)
    settings = selected(effective(config.guardrails))
    parts = needed_parts(settings)
    outcomes: list[ReconcileOutcome] = []
    findings: list[Finding] = []
    snapshots: list[Snapshot] = []
    for sub in reconciler.subscriptions():
        capture = _Capture(settings, config)
        outcome = reconciler.reconcile(sub, dry_run=not apply, extend=capture.extend, parts=parts)
        outcomes.append(outcome)
        findings += with_who_and_when(capture.findings, reconciler.nic_writes)
        if capture.snapshot is not None:
            snapshots.append(capture.snapshot)
    operations = resume_operations(reconciler, snapshots, apply=apply, workflows=workflows)
    report = build_report("sweep", outcomes, findings, snapshots, config=config, started=started,
                          operations=operations)
    log.info("compliance sweep", extra={"summary": report.summary, "dry_run": not apply})
    remember(report)
    return report


def resume_operations(reconciler: Reconciler, snapshots: Sequence[Snapshot], *, apply: bool,
                      workflows: Workflows | None = None) -> list[dict[str, Any]]:
    """NAT-pool operations whose intent is recorded on a load balancer of the snapshots: resumed when applying,
    listed in a dry run. Costs nothing when none is pending (the intent tag is in the LIST answers already read)."""
    from poolkeeper.workflows.intents import INTENT_TAG

    pending = [lb.id for snap in snapshots for lb in snap.load_balancers.values()
               if any(k.lower() == INTENT_TAG for k in lb.tags)]
    if not pending:
        return []
    if not apply:
        return [{"loadBalancer": lb, "status": "pending (dry run: not resumed)"} for lb in pending]
    if workflows is None:  # a caller without the composition root: the same service over the reconciler's clients
        from poolkeeper.workflows.operations import Workflows as Service
        from poolkeeper.workflows.store import default_store

        workflows = Service(reconciler.gateway, default_store(), scopes=reconciler.config.scopes)
    return workflows.resume_pending(reconciler.config.scopes)
