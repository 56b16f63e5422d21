"""Preconditions every workflow shares, and the shape of their findings.

A dry run that passes the preconditions means the real run will not be refused for a reason visible now (someone
may still change the estate in between; the run then stops at the refused step with Azure's code, and its intent
stays recorded so it can be resumed once the cause is fixed). Each workflow module checks its own in ``resolve``.

Refusals and notes are :class:`poolkeeper.findings.Finding` values, the one shape of every refusal, note and report:
``guardrail`` holds the code Azure would answer with (or ours, e.g. ``OperationInProgress``), so operators can search
for it; a refusal is raised in ``enforce`` mode (severity ``high``), a note in ``audit`` mode (severity ``info``). The
operation record and the HTTP answers show them as ``{"code", "message", "resourceId", "severity"}``
(:func:`finding_json`) under ``problems`` and ``notes``.
"""

from __future__ import annotations

from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.findings import Finding
from poolkeeper.model import Snapshot
from poolkeeper.workflows.intents import INTENT_TAG, Intent

RULES_PER_NIC_LIMIT = 300  # LoadBalancerRuleCountLimitReachedForNic


def refusal(code: str, message: str, resource_id: str) -> Finding:
    """Azure would refuse the operation (``code`` is Azure's error code for it, or ours)."""
    return Finding(guardrail=code, severity="high", mode="enforce", resource_id=resource_id, message=message)


def note(code: str, message: str, resource_id: str) -> Finding:
    """Something the operator should know that does not stop the operation (e.g. the ports may change)."""
    return Finding(guardrail=code, severity="info", mode="audit", resource_id=resource_id, message=message)


def is_refusal(finding: Finding) -> bool:
    return finding.mode == "enforce"


def finding_json(finding: Finding) -> dict[str, str]:
    """A finding as the operation record and the HTTP answers show it (``code`` is what clients match on)."""
    return {"code": finding.guardrail, "message": finding.message, "resourceId": finding.resource_id,
            "severity": finding.severity}


def common(intent: Intent, snap: Snapshot) -> list[Finding]:
    """What every workflow checks first: the load balancer exists and is in scope, no other operation is recorded
    on it, the named scale sets exist."""
    if snap.focus_lb is None:
        return [refusal("ResourceNotFound", f"load balancer {intent.load_balancer} does not exist or poolkeeper "
                                            "cannot read it; check the id and poolkeeper's role assignment",
                        intent.load_balancer)]
    if snap.out_of_scope:  # nothing else is judged on a partial view; nothing out of scope was read
        return [refusal("OutOfScope", why, intent.load_balancer) for why in snap.out_of_scope]
    out: list[Finding] = []
    recorded = snap.recorded_intent()
    if recorded:
        try:
            other = Intent.from_tag(snap.focus_lb["id"], recorded)
            out.append(refusal(
                "OperationInProgress",
                f"operation {other.id} ({other.kind}) is recorded on {aj.name_of(snap.focus_lb['id'])} and not "
                "finished; "
                f"resume it first (python -m poolkeeper operation resume {other.id}) — one operation per load "
                "balancer at a time", snap.focus_lb["id"],
            ))
        except ValueError as err:
            out.append(refusal("OperationInProgress", str(err), snap.focus_lb["id"]))
    for sid in intent.scale_set_ids():
        if snap.scale_set_body(sid) is None:
            out.append(refusal("ResourceNotFound", f"scale set {sid} (scaleSets) does not exist", sid))
    return out


def nat_pool(pool_name: str, snap: Snapshot, findings: list[Finding]) -> dict[str, Any] | None:
    """The NAT pool by name, or None with a ``NothingToDo`` note."""
    lb = snap.focus_lb or {}
    pool = aj.child(lb, "inboundNatPools", pool_name)
    if pool is None:
        names = [p.get("name") for p in aj.children(lb, "inboundNatPools")]
        findings.append(note("NothingToDo", f"NAT pool {pool_name} is not on {aj.name_of(lb['id'])} "
                                            f"(NAT pools there: {names or 'none'}); nothing to do", lb["id"]))
    return pool


def check_policies(sets: list[dict[str, Any]], intent: Intent, findings: list[Finding], *,
                   probe_change: bool) -> None:
    for vmss in sets:
        mode = aj.upgrade_mode(vmss)
        if mode.lower() == "rolling" and (probe_change or not intent.allow_rolling):
            why = ("a Rolling scale set needs its health probe, so Azure refuses to detach it; switch the upgrade "
                   "policy to Manual for the change and back afterwards" if probe_change else
                   "a Rolling upgrade replaces instances in batches Azure chooses; pass allowRolling=true to accept "
                   "that and let poolkeeper wait for it, or switch the policy to Manual")
            findings.append(refusal("RollingUpgradePolicy", f"scale set {vmss['name']} uses the Rolling upgrade "
                                                            f"policy: {why}", vmss["id"]))


def instance_count(snap: Snapshot, sets: list[dict[str, Any]]) -> int:
    return sum(max(len(snap.instance_bodies(s["id"])), aj.capacity(s)) for s in sets)


class PreconditionsFailed(Exception):
    """The operation was not started: Azure would refuse it. ``problems`` are the refusals (findings)."""

    def __init__(self, problems: list[Finding]) -> None:
        self.problems = problems
        super().__init__("the operation was not started, Azure would refuse it: " + "; ".join(
            f"{p.guardrail}: {p.message}" for p in problems) + f". Nothing was changed (no {INTENT_TAG} tag written)")

    def problem_dicts(self) -> list[dict[str, str]]:
        return [finding_json(p) for p in self.problems]
