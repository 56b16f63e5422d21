"""The workflows as every surface uses them (HTTP handlers, the timer, the CLI, the demo).

``Workflows`` ties a gateway factory (one ``ArmGateway`` per run, with the run's correlation id) to an operation
store. It parses and scope-checks requests, starts, resumes and shows operations, and finds the unfinished ones
recorded in Azure for the ``resume_operations`` timer.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.gateway import ArmGateway
from poolkeeper.ids import ResourceId, in_scope
from poolkeeper.logs import get_logger
from poolkeeper.workflows.intents import INTENT_TAG, BadRequest, Intent, parse_request
from poolkeeper.workflows.runner import Hooks, Runner
from poolkeeper.workflows.scope import OutOfScope, ScopeGuard
from poolkeeper.workflows.store import OperationNotFound, OperationStore

log = get_logger("workflows")

GatewayFactory = Callable[[str, str], ArmGateway]  # (subscription id, correlation id) -> gateway


class Workflows:
    def __init__(self, gateway_factory: GatewayFactory, store: OperationStore, *,
                 scopes: Iterable[str] | None = None) -> None:
        self.gateway_factory = gateway_factory
        self.store = store
        self.scopes = tuple(scopes) if scopes is not None else None

    def _gateway(self, subscription: str, correlation_id: str | None = None) -> ArmGateway:
        return self.gateway_factory(subscription, correlation_id or str(uuid.uuid4()))

    def parse(self, kind: str, body: Any) -> Intent:
        """Validate a request (raises BadRequest) and check the load balancer is in scope (raises OutOfScope).

        Scale sets and public IPs the operation reaches are checked by the runner, before it reads them: they are
        known only once the load balancer is read, and a dry run reports them as an ``OutOfScope`` problem.
        """
        intent = parse_request(kind, body)
        self._check_load_balancer(intent.load_balancer)
        return intent

    def _check_load_balancer(self, load_balancer: str) -> None:
        ScopeGuard(self.scopes, ResourceId.parse(load_balancer).subscription).check(load_balancer, "load balancer")

    def _runner(self, gw: ArmGateway, budget_seconds: float | None, hooks: Hooks | None) -> Runner:
        return Runner(gw, self.store, budget_seconds=budget_seconds, hooks=hooks, scopes=self.scopes)

    def submit(self, intent: Intent, *, dry_run: bool = False, budget_seconds: float | None = None,
               hooks: Hooks | None = None, correlation_id: str | None = None) -> dict[str, Any]:
        """Dry-run or start a new operation (raises PreconditionsFailed / BadRequest, changing nothing)."""
        self._check_load_balancer(intent.load_balancer)
        gw = self._gateway(intent.subscription, correlation_id)
        return self._runner(gw, budget_seconds, hooks).start(intent, dry_run=dry_run)

    def intent_of(self, operation_id: str, load_balancer: str | None = None) -> Intent:
        """The operation's intent: from the store, else from the tag on ``load_balancer``."""
        try:
            return Intent.from_dict(self.store.load(operation_id)["intent"])
        except OperationNotFound:
            if not load_balancer:
                raise
        self._check_load_balancer(load_balancer)
        gw = self._gateway(ResourceId.parse(load_balancer).subscription)
        lb = gw.get_load_balancer(load_balancer)
        raw = aj.tags(lb).get(INTENT_TAG) if lb else None
        if not raw:
            raise OperationNotFound(operation_id)
        intent = Intent.from_tag(lb["id"], raw)  # type: ignore[index]
        if intent.id != operation_id:
            raise BadRequest(f"{load_balancer} records operation {intent.id}, not {operation_id}")
        return intent

    def resume(self, operation_id: str, *, load_balancer: str | None = None, budget_seconds: float | None = None,
               hooks: Hooks | None = None) -> dict[str, Any]:
        """Continue an operation. Raises OutOfScope, reading nothing, if its load balancer is outside the scopes; a
        scale set it reaches that is now outside them fails the operation (code ``OutOfScope``) before any write."""
        intent = self.intent_of(operation_id, load_balancer)
        self._check_load_balancer(intent.load_balancer)
        gw = self._gateway(intent.subscription)
        return self._runner(gw, budget_seconds, hooks).resume(intent)

    def show(self, operation_id: str) -> dict[str, Any]:
        return self.store.load(operation_id)

    def pending(self, scopes: Iterable[str]) -> list[Intent]:
        """Intents recorded on load balancers in these scopes (subscription or resource-group ids)."""
        out: list[Intent] = []
        for scope in scopes:
            rid = ResourceId.parse(scope)
            if self.scopes is not None and not in_scope(rid, self.scopes):
                log.warning("not looking for operations outside scopes", extra={"scope": scope})
                continue
            gw = self._gateway(rid.subscription)
            for lb in gw.list_load_balancers(rid):
                raw = aj.tags(lb).get(INTENT_TAG)
                if not raw or (self.scopes is not None and not in_scope(lb["id"], self.scopes)):
                    continue
                try:
                    out.append(Intent.from_tag(lb["id"], raw))
                except ValueError as err:
                    log.warning("unreadable intent tag", extra={"load_balancer": lb["id"], "error": str(err)})
        return out

    def resume_pending(self, scopes: Iterable[str], *, budget_seconds: float | None = None) -> list[dict[str, Any]]:
        """What the ``resume_operations`` timer does: advance every recorded operation in scope."""
        results = []
        for intent in self.pending(scopes):
            try:
                gw = self._gateway(intent.subscription)
                record = self._runner(gw, budget_seconds, None).resume(intent)
                results.append({"operation": intent.id, "status": record["status"], "error": record.get("error")})
            except Exception as err:  # one broken operation must not stop the others
                log.exception("resume failed", extra={"operation": intent.id})
                results.append({"operation": intent.id, "status": "error", "error": str(err)})
        return results


__all__ = ["GatewayFactory", "OutOfScope", "Workflows"]
