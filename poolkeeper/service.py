"""What each trigger does, independent of how it was triggered (Functions host, local host, CLI, tests).

The handlers in ``handlers/`` only translate between Azure Functions types and these functions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from poolkeeper.correlation import is_own_correlation_id
from poolkeeper.edge.answer import HttpAnswer, shorten
from poolkeeper.edge.errors import Forbidden, InvalidRequest
from poolkeeper.eventparse import MalformedEvent, ResourceEvent, parse_event, triage
from poolkeeper.ids import ResourceId, id_key, in_scope
from poolkeeper.logs import get_logger

if TYPE_CHECKING:
    from poolkeeper.workflows.operations import Workflows

from poolkeeper.reconciler import ReconcileOutcome, Reconciler

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
    remember_nic_write(reconciler, event)
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


NIC_WRITES_KEPT = 10_000


def remember_nic_write(reconciler: Reconciler, event: ResourceEvent) -> None:
    """Keep who last wrote a NIC (someone else than poolkeeper) and when, for the sweep's PK013 findings."""
    if "/microsoft.network/networkinterfaces/" not in event.resource_id.lower() or event.is_delete \
            or is_own_correlation_id(event.correlation_id):
        return
    writes = reconciler.nic_writes
    if len(writes) >= NIC_WRITES_KEPT:
        writes.pop(next(iter(writes)))
    writes[id_key(event.resource_id)] = {"by": event.caller_object_id or "unknown", "at": event.event_time or "unknown",
                                         "correlationId": event.correlation_id or "unknown"}


def reconcile_request(reconciler: Reconciler, body: dict[str, Any], *, dry_run: bool) -> HttpAnswer:
    """``POST /api/reconcile``: ``{"resourceId": ...}``, ``{"binding": ...}`` or ``{}`` for everything.

    The edge has checked the body against its schema (an object with at most one of the two keys, bounded strings);
    refusals raise the edge's exceptions (400 InvalidRequest, 403 Forbidden), Azure's refusals ArmRefused (409).
    The configuration's ``dryRun`` makes every request a dry run.
    """
    dry_run = dry_run or reconciler.config.dry_run
    started = datetime.now(UTC)
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
        return _answer(reconciler, [outcome], started)
    if "binding" in body:
        names = [b.name for b in reconciler.config.bindings]
        if body["binding"] not in names:
            raise InvalidRequest(f"unknown binding {shorten(body['binding'], 80)}; configured: {names}")
        outcomes = [reconciler.reconcile(sub, binding=body["binding"], dry_run=dry_run)
                    for sub in reconciler.subscriptions()]
        return _answer(reconciler, outcomes, started)
    outcomes = reconciler.reconcile_all(dry_run=dry_run)
    return _answer(reconciler, outcomes, started)


def _answer(reconciler: Reconciler, outcomes: list[ReconcileOutcome], started: datetime) -> HttpAnswer:
    """The outcomes, and the run's report (``poolkeeper/report.schema.json``, kind ``reconcile``: the guardrail
    findings about its changes, no topology)."""
    from poolkeeper.report import build_report

    report = build_report("reconcile", outcomes, [f for o in outcomes for f in o.findings], [],
                          config=reconciler.config, started=started)
    return HttpAnswer(200, {"outcomes": [o.to_dict() for o in outcomes], "report": report.to_dict()})


def compliance_sweep(reconciler: Reconciler, workflows: Workflows | None = None) -> dict[str, Any]:
    """The scheduled sweep (timer ``compliance_sweep``): every guardrail, safe repairs, bindings reconciled, pending
    NAT-pool operations resumed, within the configured limits (``poolkeeper.sweep``). Answers the run's report."""
    from poolkeeper.sweep import run_sweep

    return run_sweep(reconciler, apply=True, workflows=workflows).to_dict()


def sweep_request(reconciler: Reconciler, *, dry_run: bool, workflows: Workflows | None = None) -> HttpAnswer:
    """``POST /api/sweep``: a dry run unless ``?dryRun=false`` (the configuration's ``dryRun`` wins)."""
    from poolkeeper.sweep import run_sweep

    apply = not (dry_run or reconciler.config.dry_run)
    return HttpAnswer(200, run_sweep(reconciler, apply=apply, workflows=workflows).to_dict())
