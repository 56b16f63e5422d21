"""What each trigger does, independent of how it was triggered (Functions host, local host, CLI, tests).

The handlers in ``handlers/`` only translate between Azure Functions types and these functions.
"""

from __future__ import annotations

from typing import Any

from poolkeeper.edge.answer import HttpAnswer, shorten
from poolkeeper.edge.errors import Forbidden, InvalidRequest
from poolkeeper.eventparse import MalformedEvent, parse_event, triage
from poolkeeper.ids import ResourceId, in_scope
from poolkeeper.logs import get_logger
from poolkeeper.reconciler import Reconciler

log = get_logger("service")


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


def reconcile_request(reconciler: Reconciler, body: dict[str, Any], *, dry_run: bool) -> HttpAnswer:
    """``POST /api/reconcile``: ``{"resourceId": ...}``, ``{"binding": ...}`` or ``{}`` for everything.

    The edge has checked the body against its schema (an object with at most one of the two keys, bounded strings);
    refusals raise the edge's exceptions (400 InvalidRequest, 403 Forbidden), Azure's refusals ArmRefused (409).
    The configuration's ``dryRun`` makes every request a dry run.
    """
    dry_run = dry_run or reconciler.config.dry_run
    if not isinstance(body, dict):
        raise InvalidRequest('the body must be a JSON object: {}, {"resourceId": ...} or {"binding": ...}')
    if "resourceId" in body:
        try:
            rid = ResourceId.parse(str(body["resourceId"]))
        except ValueError as err:
            raise InvalidRequest(f"resourceId: {shorten(str(err), 300)}") from None
        if not in_scope(rid, reconciler.config.scopes):
            raise Forbidden(f"{shorten(str(rid), 300)} is outside poolkeeper's scopes "
                            f"({', '.join(reconciler.config.scopes)}); nothing was changed")
        target = rid.top.key if rid.types and rid.types[0].lower() == "virtualmachinescalesets" else rid.key
        outcome = reconciler.reconcile(rid.subscription, resource_group=rid.resource_group,
                                       only={target} if rid.types else None, dry_run=dry_run)
        return HttpAnswer(200, {"outcomes": [outcome.to_dict()]})
    if "binding" in body:
        names = [b.name for b in reconciler.config.bindings]
        if body["binding"] not in names:
            raise InvalidRequest(f"unknown binding {shorten(body['binding'], 80)}; configured: {names}")
        outcomes = [reconciler.reconcile(sub, binding=body["binding"], dry_run=dry_run)
                    for sub in reconciler.subscriptions()]
        return HttpAnswer(200, {"outcomes": [o.to_dict() for o in outcomes]})
    outcomes = reconciler.reconcile_all(dry_run=dry_run)
    return HttpAnswer(200, {"outcomes": [o.to_dict() for o in outcomes]})


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
