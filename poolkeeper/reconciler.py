"""The reconcile workflow: snapshot → plan → apply, repeated when the world moves underneath.

Level-triggered: whatever asked for the run (an event, a sweep, a pipeline), the run reads Azure as it is, plans the
difference to the bindings and applies it. A lost ETag race or a stale change makes it read and plan again (bounded),
so concurrent workers converge instead of overwriting each other.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import TokenCredential

from poolkeeper.changes import Plan
from poolkeeper.clients import ArmClients, ClientCache, default_credential
from poolkeeper.config import Config
from poolkeeper.executor import ApplyResult, Executor, Replan, Throttled
from poolkeeper.findings import Finding
from poolkeeper.gateway import ArmGateway
from poolkeeper.guardrails.screen import screen_findings, screen_parts
from poolkeeper.limits import Breaker, Deferred, cut, units
from poolkeeper.logs import get_logger
from poolkeeper.model import Snapshot
from poolkeeper.planner import plan as make_plan
from poolkeeper.reader import read_narrow, read_snapshot, scopes_for_run

log = get_logger("reconciler")


class ReplanLimitReached(Exception):
    pass


def resource_totals(snapshot: Snapshot) -> dict[str, int]:
    """Resources per kind in a snapshot, for ``maxChangesPercent``."""
    return {"networkInterface": len(snapshot.nics), "scaleSet": len(snapshot.scale_sets),
            "natRule": sum(len(lb.inbound_nat_rules) for lb in snapshot.load_balancers.values())}


@dataclass
class ReconcileOutcome:
    subscription_id: str
    correlation_id: str
    dry_run: bool
    plan: Plan
    result: ApplyResult | None = None
    rounds: int = 1
    arm_calls: dict[str, int] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)  # guardrail refusals (enforce) and notes (audit)
    deferred: list[Deferred] = field(default_factory=list)  # cut by the limits (issue 12)
    breaker: Breaker | None = None

    @property
    def ok(self) -> bool:
        return self.result is None or not self.result.failed

    def to_dict(self) -> dict[str, Any]:
        return {
            "subscriptionId": self.subscription_id,
            "correlationId": self.correlation_id,
            "dryRun": self.dry_run,
            "plan": self.plan.to_dict(),
            "result": self.result.to_dict() if self.result else None,
            "rounds": self.rounds,
            "armCalls": self.arm_calls,
            "findings": [f.to_dict() for f in self.findings],
            "deferred": [d.to_dict() for d in self.deferred],
            "breaker": self.breaker.to_dict() if self.breaker else None,
            "ok": self.ok,
        }


class Reconciler:
    """Holds the configuration and one set of SDK clients per subscription (reused across runs).

    ``clients``: the process's client cache (``poolkeeper.composition`` shares one with the workflows); whoever
    made it closes it. Without it the reconciler makes, and on :meth:`close` closes, its own.
    """

    def __init__(self, config: Config, credential: TokenCredential | None = None, *, max_rounds: int = 6,
                 clients: ClientCache | None = None, retry_window_s: float = 30.0) -> None:
        self.config = config
        self.credential = credential or (clients.credential if clients is not None else default_credential())
        self.max_rounds = max_rounds
        self.retry_window_s = retry_window_s  # how long one ARM call retries throttling before it is deferred
        self._owns_clients = clients is None
        self._clients = clients if clients is not None else ClientCache(config.arm_endpoint, self.credential)
        self._lock = threading.Lock()
        # event-driven runs in flight, per (subscription, resource group): resources queued for one more round
        # (an empty set: nothing queued; None: the whole group)
        self._pending: dict[tuple[str, str], set[str] | None] = {}
        # issue 12: the last write to each NIC made by someone else, as its event said (who, when, correlation id);
        # the sweep names them in PK013 "removed by someone else" findings. In memory, bounded: "unknown" otherwise
        self.nic_writes: dict[str, dict[str, str]] = {}

    def clients(self, subscription_id: str) -> ArmClients:
        return self._clients(subscription_id)

    @property
    def client_cache(self) -> ClientCache:
        """The SDK client cache this reconciler uses (a variant reconciler can share it)."""
        return self._clients

    def gateway(self, subscription_id: str, correlation_id: str | None = None) -> ArmGateway:
        return ArmGateway(self.clients(subscription_id), correlation_id=correlation_id,
                          retry_window_s=self.retry_window_s)

    def subscriptions(self) -> list[str]:
        seen: dict[str, str] = {}
        for scope in self.config.scopes:
            sub = scope.split("/")[2]
            seen.setdefault(sub.lower(), sub)
        return list(seen.values())

    def reconcile(
        self,
        subscription_id: str,
        *,
        resource_group: str | None = None,
        only: set[str] | None = None,
        binding: str | None = None,
        dry_run: bool | None = None,
        correlation_id: str | None = None,
        extend: Callable[[Snapshot, Plan], Plan] | None = None,
        parts: frozenset[str] = frozenset(),
        breaker: Breaker | None = None,
    ) -> ReconcileOutcome:
        """Bring one subscription's scopes (or one resource group of them) to the bindings' intent.

        ``extend`` (the sweep) adds changes to the plan (enforce-mode guardrail fixes). The configuration's
        ``limits`` cut the plan (``poolkeeper.limits``) and a breaker stops the writes when too many fail (a fresh
        one unless ``breaker`` is given: :meth:`reconcile_coalesced` carries one through its rounds).
        """
        dry = self.config.dry_run if dry_run is None else dry_run
        gw = self.gateway(subscription_id, correlation_id)
        scopes = scopes_for_run(self.config, subscription_id, resource_group)
        result = ApplyResult()
        breaker = breaker if breaker is not None else Breaker.of(self.config.limits)
        for round_no in range(1, self.max_rounds + 1):
            wanted_parts = screen_parts(self.config) | parts
            # a narrow read (a few VMs/NICs) unless a percentage limit needs the resource group's totals
            narrow = (read_narrow(gw, self.config, scopes, only, wanted_parts)
                      if only is not None and resource_group is not None and binding is None and scopes
                      and extend is None and self.config.limits.max_changes_percent is None else None)
            snapshot = narrow if narrow is not None else read_snapshot(gw, self.config, scopes, wanted_parts)
            plan = make_plan(self.config, snapshot, only=only, binding=binding)
            if extend is not None:
                plan = extend(snapshot, plan)
            plan, findings = self._screen(plan, snapshot, gw.correlation_id)
            plan, deferred = self._cut(plan, snapshot, result, gw.correlation_id)
            outcome = ReconcileOutcome(subscription_id, gw.correlation_id, dry, plan, None, round_no, dict(gw.calls),
                                       findings, deferred, breaker)
            if dry or plan.is_empty:
                outcome.result = None if dry else result
                log.info(
                    "planned" if dry else "nothing to do",
                    extra={"changes": len(plan.changes), "reports": len(plan.findings), "dry_run": dry,
                           "correlation_id": gw.correlation_id},
                )
                return outcome
            try:
                Executor(gw, breaker, snapshot=snapshot).apply(plan, result=result)
            except Replan:
                continue
            except Throttled as err:
                # throttling is pacing, not failure (issue 13): each call already waited what ARM asked for its
                # retry window; what is still throttled is left to the next run (the next event, queued round or
                # sweep reads Azure again), listed under ``throttled``, never under ``failed``. Ending here frees
                # the events queued behind this run instead of holding them for more windows.
                log.warning("changes left for the next run: ARM kept throttling", extra={
                    "reason": str(err), "round": round_no, "throttled": len(result.throttled),
                    "correlation_id": gw.correlation_id})
                outcome.result = result
                outcome.arm_calls = dict(gw.calls)
                return outcome
            outcome.result = result
            outcome.arm_calls = dict(gw.calls)
            log.info(
                "reconciled",
                extra={"writes": result.writes, "failed": len(result.failed), "round": round_no,
                       "arm_calls": dict(gw.calls), "correlation_id": gw.correlation_id},
            )
            return outcome
        raise ReplanLimitReached(
            f"gave up after {self.max_rounds} rounds: the resources kept changing under every plan "
            f"(correlation id {gw.correlation_id}); the next event or sweep will try again"
        )

    # -- limits (issue 12) -------------------------------------------------------------------------------------------
    def _cut(self, plan: Plan, snapshot: Snapshot, result: ApplyResult,
             correlation_id: str) -> tuple[Plan, list[Deferred]]:
        """Cut the plan to the limits; units applied in earlier rounds of this run count against them."""
        limits = self.config.limits
        if limits.max_changes_per_run is not None and result.applied:
            done = len(units(result.applied))
            limits = dataclasses.replace(limits, max_changes_per_run=max(limits.max_changes_per_run - done, 0) or None)
            if limits.max_changes_per_run is None:  # the budget is spent: defer everything
                return plan.with_changes(()), [Deferred(u, "maxChangesPerRun reached in an earlier round",
                                                        "maxChangesPerRun") for u in units(plan.changes)]
        kept, deferred = cut(plan, limits, resource_totals(snapshot))
        if deferred:
            log.warning("changes deferred by limits", extra={
                "deferred": sum(len(d.changes) for d in deferred), "units": len(deferred),
                "limit": sorted({d.limit for d in deferred}), "correlation_id": correlation_id})
        return kept, deferred

    # -- guardrails (issue 11) -------------------------------------------------------------------------------------
    def _screen(self, plan: Plan, snapshot: Snapshot, correlation_id: str) -> tuple[Plan, list[Finding]]:
        """Drop the changes enforce-mode guardrails refuse (each refusal logged at WARNING); keep audit notes. The
        planner's own findings (what it refused or only flagged instead of writing) are logged at INFO."""
        for f in plan.findings:
            log.info("planner finding", extra={"guardrail": f.guardrail, "resource": f.resource_id, "reason": f.message,
                                               "binding": f.binding, "correlation_id": correlation_id})
        allowed, refusals, notes = screen_findings(plan, snapshot, self.config)
        for f in refusals:
            log.warning("guardrail refused a change", extra={"guardrail": f.guardrail, "resource": f.resource_id,
                                                             "reason": f.message, "fix": f.fix,
                                                             "correlation_id": correlation_id})
        for f in notes:
            log.info("guardrail finding (audit)", extra={"guardrail": f.guardrail, "resource": f.resource_id,
                                                         "reason": f.message, "correlation_id": correlation_id})
        return allowed, refusals + notes

    def reconcile_coalesced(
        self, subscription_id: str, resource_group: str | None, only: set[str] | None
    ) -> ReconcileOutcome | None:
        """Event-driven runs, coalesced per resource group.

        A burst of events (twenty VMs created at once) would otherwise make twenty runs each read the whole resource
        group. While a run for the group is in flight, later events only add their resources to a pending set and
        return None; the in-flight run does one more round for everything pending before it finishes. So a burst
        costs two or three runs, not one per event. ``only=None`` (a delete) widens the pending round to the group.

        The rounds share one breaker until it trips (then the next round starts a fresh one: its events get their
        own try). Why: the executor admits a parallel write only while the breaker could not trip were every write
        in flight to fail, so a fresh breaker starts a round with 4 writes in flight and doubles them per write's
        duration; at N=500 (issue 13) each round of hundreds of NICs spent ~10 s ramping up. A breaker that has
        seen the previous rounds' successes lets the next round write at full width at once, and stops where
        one-by-one writes of the whole chain as a single run would: like any run's breaker, it judges the error rate
        over the chain's writes so far, and it also trips after ``limits.MAX_FAILURE_STREAK`` (64) failures in a row,
        so a chain that wrote 500 NICs and then meets a policy refusing every write stops after 64 refusals.
        """
        key = (subscription_id.lower(), (resource_group or "").lower())
        with self._lock:
            if key in self._pending:
                current = self._pending[key]
                self._pending[key] = None if current is None or only is None else current | only
                return None
            self._pending[key] = set()  # nothing queued yet behind this run
            targets: set[str] | None = only
        outcome: ReconcileOutcome | None = None
        breaker: Breaker | None = None
        try:
            while True:
                if breaker is None or breaker.tripped:
                    breaker = Breaker.of(self.config.limits)
                outcome = self.reconcile(subscription_id, resource_group=resource_group, only=targets,
                                         breaker=breaker)
                with self._lock:
                    queued = self._pending[key]
                    if queued is not None and not queued:
                        del self._pending[key]
                        return outcome
                    targets = queued
                    self._pending[key] = set()
        except BaseException:
            with self._lock:
                self._pending.pop(key, None)
            raise

    def reconcile_all(self, *, dry_run: bool | None = None) -> list[ReconcileOutcome]:
        return [self.reconcile(sub, dry_run=dry_run) for sub in self.subscriptions()]

    def close(self) -> None:
        if self._owns_clients:
            self._clients.close()
