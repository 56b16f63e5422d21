"""What each trigger does, independent of how it was triggered (Functions host, local host, CLI, tests).

The handlers in ``handlers/`` only translate between Azure Functions types and these functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from poolkeeper.eventparse import MalformedEvent, parse_event, triage
from poolkeeper.gateway import ArmRefused
from poolkeeper.ids import ResourceId, in_scope
from poolkeeper.logs import get_logger
from poolkeeper.reconciler import Reconciler, ReplanLimitReached

log = get_logger("service")


@dataclass
class HttpResult:
    status: int
    body: dict[str, Any]


def handle_resource_event(reconciler: Reconciler, raw: Any) -> dict[str, Any]:
    """React to one Azure Resource Manager event. Never raises for a bad event: it is logged and dropped (Event
    Grid would otherwise redeliver it for a day)."""
    try:
        event = parse_event(raw)
    except MalformedEvent as err:
        log.warning("malformed event dropped", extra={"error": str(err)})
        return {"action": "drop", "reason": f"malformed event: {err}"}
    decision = triage(event, reconciler.config)
    extra = {"event_id": event.id, "operation": event.operation_name, "resource": event.resource_id,
             "event_correlation_id": event.correlation_id, "decision": decision.action, "reason": decision.reason}
    if decision.action != "reconcile":
        log.info("event not acted on", extra=extra)
        return {"event": event.id, **decision.to_dict()}
    log.info("event accepted", extra=extra)
    outcome = reconciler.reconcile_coalesced(
        decision.subscription_id, decision.resource_group, set(decision.only) if decision.only is not None else None
    )
    if outcome is None:  # folded into the run already in flight for this resource group
        return {"event": event.id, **decision.to_dict(), "coalesced": True}
    return {"event": event.id, **decision.to_dict(), "outcome": outcome.to_dict()}


def handle_reconcile_request(reconciler: Reconciler, body: Any, *, dry_run: bool) -> HttpResult:
    """``POST /api/reconcile``: ``{"resourceId": ...}`` or ``{"binding": ...}`` (or ``{}`` for everything)."""
    if not isinstance(body, dict):
        return HttpResult(400, {"error": "the body must be a JSON object: {\"resourceId\": ...} or {\"binding\": ...}"})
    unknown = set(body) - {"resourceId", "binding"}
    if unknown:
        return HttpResult(400, {"error": f"unknown keys {sorted(unknown)}; use 'resourceId' or 'binding'"})
    try:
        if "resourceId" in body:
            try:
                rid = ResourceId.parse(str(body["resourceId"]))
            except ValueError as err:
                return HttpResult(400, {"error": f"resourceId: {err}"})
            if not in_scope(rid, reconciler.config.scopes):
                return HttpResult(403, {"error": f"{rid} is outside poolkeeper's scopes "
                                                  f"({', '.join(reconciler.config.scopes)}); nothing was changed"})
            target = rid.top.key if rid.types and rid.types[0].lower() == "virtualmachinescalesets" else rid.key
            outcome = reconciler.reconcile(rid.subscription, resource_group=rid.resource_group,
                                           only={target} if rid.types else None, dry_run=dry_run)
            return HttpResult(200, {"outcomes": [outcome.to_dict()]})
        if "binding" in body:
            names = [b.name for b in reconciler.config.bindings]
            if body["binding"] not in names:
                return HttpResult(400, {"error": f"unknown binding {body['binding']!r}; configured: {names}"})
            outcomes = [reconciler.reconcile(sub, binding=body["binding"], dry_run=dry_run)
                        for sub in reconciler.subscriptions()]
            return HttpResult(200, {"outcomes": [o.to_dict() for o in outcomes]})
        outcomes = reconciler.reconcile_all(dry_run=dry_run)
        return HttpResult(200, {"outcomes": [o.to_dict() for o in outcomes]})
    except ArmRefused as err:
        return HttpResult(409, {"error": str(err), "code": err.code})
    except ReplanLimitReached as err:
        return HttpResult(503, {"error": str(err)})


def compliance_sweep(reconciler: Reconciler) -> dict[str, Any]:
    """The scheduled sweep: find and repair drift across every scope (what events missed or someone undid)."""
    outcomes = reconciler.reconcile_all()
    summary = {
        "subscriptions": len(outcomes),
        "changes": sum(len(o.plan.actions) for o in outcomes),
        "reports": sum(len(o.plan.reports) for o in outcomes),
        "writes": sum(o.result.writes for o in outcomes if o.result),
        "failed": sum(len(o.result.failed) for o in outcomes if o.result),
    }
    log.info("compliance sweep", extra=summary)
    return {"summary": summary, "outcomes": [o.to_dict() for o in outcomes]}
