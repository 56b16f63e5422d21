"""Run an operation: validate, back up, record the intent, then read → plan → do one step → repeat.

The runner keeps no state of its own between runs: the intent tag on the load balancer says an operation is
unfinished, Azure's resources say how far it got, and the operation store keeps the history (steps, batches, port
mappings, backups) for people and for ``GET /api/operations/{id}``. Any run — the same process, the timer after a
crash, the CLI after a redeploy — continues from the first step whose effect is not yet in Azure.

Test hooks: ``crash_after_step`` raises :class:`SimulatedCrash` (a BaseException, so nothing swallows it, like a
kill) right after the N-th step of a run completes; ``before_step`` runs before a step starts; ``before_write``
runs between a step's fresh read and its write (tests use it to make a concurrent edit that costs us a 412).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.executor import StillWaiting
from poolkeeper.gateway import ArmGateway, ArmRefused, PreconditionFailed
from poolkeeper.ids import id_key
from poolkeeper.logs import get_logger
from poolkeeper.model import Snapshot
from poolkeeper.mutations import StaleChange
from poolkeeper.workflows.intents import Intent
from poolkeeper.workflows.preconditions import PreconditionsFailed, finding_json, is_refusal
from poolkeeper.workflows.registry import next_steps, resolve
from poolkeeper.workflows.scope import OutOfScope, ScopeGuard
from poolkeeper.workflows.shell import execute, port_mappings_v1, port_mappings_v2, read_snapshot
from poolkeeper.workflows.step import Step, count_calls
from poolkeeper.workflows.store import OperationStore

log = get_logger("workflows")

ProgressEvent = dict[str, Any]
FINAL = ("succeeded", "failed")


class SimulatedCrash(BaseException):
    """Raised by the crash hook: the process "dies" here (tests)."""


@dataclass
class Hooks:
    crash_after_step: int | None = None
    before_step: Callable[[Step], None] | None = None
    before_write: Callable[[Step], None] | None = None
    on_event: Callable[[ProgressEvent], None] | None = None


_running: dict[str, threading.Lock] = {}
_running_guard = threading.Lock()


def _lock_for(operation_id: str) -> threading.Lock:
    with _running_guard:
        return _running.setdefault(operation_id, threading.Lock())


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Runner:
    def __init__(self, gw: ArmGateway, store: OperationStore, *, budget_seconds: float | None = None,
                 hooks: Hooks | None = None, max_replans: int = 8, scopes: Iterable[str] | None = None) -> None:
        self.gw = gw
        self.store = store
        self.budget_seconds = budget_seconds
        self.hooks = hooks or Hooks()
        self.max_replans = max_replans
        self.scopes = tuple(scopes) if scopes is not None else None

    def _guard(self, intent: Intent) -> ScopeGuard:
        return ScopeGuard(self.scopes, intent.subscription)

    # ------------------------------------------------------------------------------------------------ entry points
    def start(self, intent: Intent, *, dry_run: bool = False) -> dict[str, Any]:
        """Check and (unless ``dry_run``) run a new operation. Raises PreconditionsFailed, changing nothing."""
        snap = read_snapshot(self.gw, intent, self._guard(intent))
        intent, findings = resolve(intent, snap)  # a new, resolved intent: the one recorded and run
        problems = [f for f in findings if is_refusal(f)]
        record = self._new_record(intent)
        record["notes"] = [finding_json(n) for n in findings if not is_refusal(n)]
        record["problems"] = [finding_json(p) for p in problems]
        steps: list[Step] = [] if problems else next_steps(intent, snap)
        record["plan"] = [s.to_dict() for s in steps]
        record["expectedWrites"] = count_calls(steps)
        if snap.focus_lb is not None and intent.kind in ("remove-natpool", "migrate-natpool"):
            before = port_mappings_v1(snap.focus_lb, intent.params["natPool"])
            record["portMappings"] = {"before": list(before.values())}
        if dry_run:
            record["status"] = "dry-run" if not problems else "refused"
            if not problems and steps:
                intent.tag_value()  # a too-long intent is a refusal the dry run must show
            record["armCalls"] = dict(self.gw.calls)
            return record
        if problems:
            raise PreconditionsFailed(problems)
        if not steps:
            record["status"] = "succeeded"
            record["summary"] = "nothing to do: Azure already matches the request"
            record["armCalls"] = dict(self.gw.calls)
            return record
        intent.tag_value()
        self._backup(intent, snap, record)
        record["status"] = "running"
        self.store.save(record)
        self._emit({"event": "started", "operation": intent.id, "kind": intent.kind, "steps": len(steps),
                    "plan": record["plan"]})
        return self._advance(intent, record)

    def resume(self, intent: Intent) -> dict[str, Any]:
        """Continue a recorded operation (from the store, or rebuilt from the load balancer's tag)."""
        try:
            record = self.store.load(intent.id)
        except KeyError:
            record = self._new_record(intent)
            record["notes"] = [{"code": "RebuiltFromTag", "message": "the operation store had no record of this "
                                "operation (lost or another store); resumed from the intent recorded on the load "
                                "balancer; backups taken by the first run are where that run kept them"}]
        # even a finished operation is looked at again: it plans nothing, so this makes no write
        record["status"] = "running"
        return self._advance(intent, record)

    # ------------------------------------------------------------------------------------------------ the loop
    def _advance(self, intent: Intent, record: dict[str, Any]) -> dict[str, Any]:
        lock = _lock_for(intent.id)
        if not lock.acquire(blocking=False):
            record["status"] = "running"
            record.setdefault("notes", []).append({"code": "AlreadyRunning",
                                                   "message": "another run in this process is advancing it"})
            return record
        try:
            return self._loop(intent, record)
        finally:
            lock.release()

    def _loop(self, intent: Intent, record: dict[str, Any]) -> dict[str, Any]:
        deadline = time.monotonic() + self.budget_seconds if self.budget_seconds is not None else None
        record.setdefault("correlationIds", []).append(self.gw.correlation_id)
        completed = 0
        replans = 0
        guard = self._guard(intent)
        while True:
            try:
                snap = read_snapshot(self.gw, intent, guard)
            except OutOfScope as err:
                return self._fail(record, "OutOfScope", f"{err}. Nothing was read or changed outside scope")
            if snap.out_of_scope:  # e.g. resumed after the scopes changed: stop before touching anything
                return self._fail(record, "OutOfScope", "; ".join(snap.out_of_scope) + ". Nothing was read or "
                                  "changed outside scope; the intent stays recorded on the load balancer")
            try:
                steps = next_steps(intent, snap)
            except ValueError as err:
                return self._fail(record, "CannotContinue", str(err))
            if not steps:
                return self._finish(intent, record, snap)
            step = steps[0]
            if deadline is not None and time.monotonic() > deadline:
                return self._pause(record, f"time budget spent before step {step.key}; resume_operations continues")
            entry = self._step_entry(record, step)
            entry.update(status="running", startedAt=entry.get("startedAt") or now())
            self.store.save(record)
            self._emit({"event": "step", "operation": intent.id, "step": step.to_dict()})
            before = dict(self.gw.calls)
            try:
                if self.hooks.before_step is not None:
                    self.hooks.before_step(step)
                result = execute(self.gw, step, intent, on_batch=lambda s, b, d, t: self._batch(record, s, b, d, t),
                                 deadline=deadline, before_write=self.hooks.before_write, guard=guard)
            except OutOfScope as err:
                entry["status"] = "failed"
                return self._fail(record, "OutOfScope", str(err))
            except PreconditionFailed as err:
                replans += 1
                log.info("lost an ETag race; re-reading", extra={"step": step.key, "resource": err.resource_id,
                                                                 "correlation_id": self.gw.correlation_id})
                entry["status"] = "retrying"
                entry["etagRetries"] = entry.get("etagRetries", 0) + 1
                if replans > self.max_replans:
                    return self._fail(record, "PreconditionFailed", f"{err} ({replans} times); try again later")
                continue
            except StillWaiting as err:
                entry["status"] = "waiting"
                return self._pause(record, str(err))
            except (ArmRefused, StaleChange) as err:  # StaleChange: EditConflict, or the resource is gone
                entry["status"] = "failed"
                code = err.code if isinstance(err, ArmRefused) else "Conflict"
                return self._fail(record, code, f"step {step.key} refused: {err}. The intent stays recorded on the "
                                                "load balancer; fix the cause and resume the operation")
            entry.update(status="done", finishedAt=now(), writes=entry.get("writes", 0) + result.get("writes", 0),
                         armCalls=_diff(self.gw.calls, before))
            if result.get("skipped"):
                entry["note"] = result["skipped"]
            self.store.save(record)
            self._emit({"event": "step-done", "operation": intent.id, "step": step.key, "title": step.title,
                        "armCalls": entry["armCalls"]})
            completed += 1
            if self.hooks.crash_after_step is not None and completed >= self.hooks.crash_after_step:
                raise SimulatedCrash(f"crash injected after step {completed} ({step.key})")

    # ------------------------------------------------------------------------------------------------ record
    def _new_record(self, intent: Intent) -> dict[str, Any]:
        return {"id": intent.id, "kind": intent.kind, "loadBalancer": intent.load_balancer,
                "intent": intent.to_dict(), "status": "pending", "createdAt": now(), "updatedAt": now(),
                "steps": [], "notes": [], "problems": [], "backups": {}}

    def _step_entry(self, record: dict[str, Any], step: Step) -> dict[str, Any]:
        for entry in record["steps"]:
            if entry["key"] == step.key:
                return entry
        entry = {"key": step.key, "title": step.title, "kind": step.kind, "phase": step.phase, "status": "pending",
                 "target": step.target}
        record["steps"].append(entry)
        return entry

    def _batch(self, record: dict[str, Any], step: Step, batch: list[str], done: int, total: int) -> None:
        entry = self._step_entry(record, step)
        entry.setdefault("batches", []).append({"instances": batch, "status": "done", "at": now()})
        entry["progress"] = {"done": done, "total": total}
        self.store.save(record)
        self._emit({"event": "batch", "operation": record["id"], "step": step.key, "scaleSet": aj.name_of(step.target),
                    "instances": batch, "done": done, "total": total})

    def _backup(self, intent: Intent, snap: Snapshot, record: dict[str, Any]) -> None:
        """The load balancer's and each touched scale set's JSON, before the first destructive step."""
        assert snap.focus_lb is not None
        lb = snap.focus_lb
        record["backups"]["loadBalancer"] = self.store.put_backup(intent.id, f"lb-{lb['name']}", lb)
        for vmss in snap.scale_set_bodies():
            if id_key(vmss["id"]) not in snap.instances_read:
                continue
            record["backups"][vmss["name"]] = self.store.put_backup(intent.id, f"vmss-{vmss['name']}", vmss)

    def _finish(self, intent: Intent, record: dict[str, Any], snap: Snapshot) -> dict[str, Any]:
        record["status"] = "succeeded"
        record["finishedAt"] = now()
        if intent.kind == "migrate-natpool" and snap.focus_lb is not None:
            mappings = record.get("portMappings") or {}
            queried = self._query_ports(snap.focus_lb, intent, mappings.get("before") or [])
            record["portMappings"] = _port_report(mappings, snap.focus_lb, intent, queried)
        record["armCalls"] = dict(self.gw.calls)
        record["updatedAt"] = now()
        self.store.save(record)
        self._emit({"event": "done", "operation": intent.id, "status": "succeeded"})
        log.info("operation finished", extra={"operation": intent.id, "kind": intent.kind,
                                              "correlation_id": self.gw.correlation_id})
        return record

    def _query_ports(self, lb: dict[str, Any], intent: Intent,
                     before: list[dict[str, Any]]) -> dict[str, dict[str, Any]] | None:
        """Each migrated instance's port on the new NAT rule V2, as Azure assigned it; None if Azure refused.

        Why query: Azure picks a V2 rule's port per member itself and does not put it in the load balancer body, so
        anything else is a guess. One LoadBalancers_ListInboundNatRulePortMappings call per instance that was in the
        NAT pool. A refusal (e.g. a 403 because the role predates the action) falls back to the prediction in
        :func:`_port_report`, with a warning: the migration itself has already succeeded.
        """
        rule = intent.params.get("ruleName") or intent.params["natPool"]
        pool = intent.params["backendPool"]
        out: dict[str, dict[str, Any]] = {}
        for m in sorted(before, key=lambda m: id_key(m["ipConfiguration"])):
            ipc = m["ipConfiguration"]
            try:
                answer = self.gw.query_nat_rule_port_mapping(lb["id"], pool, ipc)
            except ArmRefused as err:
                log.warning("Azure refused the NAT rule V2 port mapping query; reporting predicted ports",
                            extra={"operation": intent.id, "resource": err.resource_id, "status": err.status,
                                   "code": err.code, "error": err.azure_message,
                                   "correlation_id": self.gw.correlation_id})
                return None
            hit = next((a for a in answer if str(a.get("inboundNatRuleName", "")).lower() == rule.lower()), None)
            if hit is not None:
                out[id_key(ipc)] = {"instance": m.get("instance"), "ipConfiguration": ipc,
                                    "inboundNatRuleName": hit.get("inboundNatRuleName"),
                                    "protocol": hit.get("protocol"), "frontendPort": hit.get("frontendPort"),
                                    "backendPort": hit.get("backendPort")}
        return out

    def _pause(self, record: dict[str, Any], why: str) -> dict[str, Any]:
        record["status"] = "waiting"
        record["waitingFor"] = why
        record["updatedAt"] = now()
        self.store.save(record)
        self._emit({"event": "waiting", "operation": record["id"], "why": why})
        return record

    def _fail(self, record: dict[str, Any], code: str, message: str) -> dict[str, Any]:
        record["status"] = "failed"
        record["error"] = {"code": code, "message": message}
        record["updatedAt"] = now()
        self.store.save(record)
        self._emit({"event": "failed", "operation": record["id"], "error": record["error"]})
        log.warning("operation stopped", extra={"operation": record["id"], "code": code, "error": message,
                                                "correlation_id": self.gw.correlation_id})
        return record

    def _emit(self, event: ProgressEvent) -> None:
        if self.hooks.on_event is not None:
            self.hooks.on_event(event)


def _diff(after: Any, before: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in dict(after).items() if v - before.get(k, 0)}


def _port_report(mappings: dict[str, Any], lb: dict[str, Any], intent: Intent,
                 queried: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """Old → new port per instance, in the ListInboundNatRulePortMappings shape, for SSH/RDP configs.

    ``queried`` is Azure's answer per ipConfiguration (``afterSource: "azure"``); None means the query was refused,
    and then the backend pool's own listing, if Azure filled it in, or else poolkeeper's prediction is used.
    """
    before = {id_key(m["ipConfiguration"]): m for m in mappings.get("before") or []}
    rule = intent.params.get("ruleName") or intent.params["natPool"]
    source = "azure"
    if queried is not None:
        after = queried
    else:
        after = port_mappings_v2(lb, rule, intent.params["backendPool"])
        if not after:
            after, source = _predicted(lb, rule, list(before.values())), "predicted"
    instances = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        label = (old or new or {}).get("instance")
        instances.append({
            "instance": label,
            "ipConfiguration": (old or new or {}).get("ipConfiguration"),
            "before": {"inboundNatRulePortMappings": [_shape(old)] if old else []},
            "after": {"inboundNatRulePortMappings": [_shape(new)] if new else []},
            "portChanged": None if not (old and new) else old["frontendPort"] != new["frontendPort"],
        })
    out = {"before": list(before.values()), "after": list(after.values()), "afterSource": source,
           "instances": instances}
    if source == "predicted":
        out["afterNote"] = (
            "Azure refused the NAT rule V2 port mapping query (LoadBalancers_ListInboundNatRulePortMappings; the "
            "role needs Microsoft.Network/loadBalancers/backendAddressPools/queryInboundNatRulePortMapping/action), "
            "so 'after' is poolkeeper's prediction (instances in id order from the range start), not Azure's answer; "
            f"confirm it with `az network lb list-mapping -g <rg> -n {aj.name_of(intent.load_balancer)} "
            f"--backend-pool-name {intent.params['backendPool']} --request ip-configuration=<ipConfiguration id>`"
        )
    return out


def _shape(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m.get(k) for k in ("inboundNatRuleName", "protocol", "frontendPort", "backendPort")}


def _predicted(lb: dict[str, Any], rule_name: str, before: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Ports a NAT rule V2 would hand out in instance order (only when Azure refused to report them)."""
    rule = aj.child(lb, "inboundNatRules", rule_name)
    if rule is None:
        return {}
    rp = aj.props(rule)
    start = int(rp.get("frontendPortRangeStart") or 0)
    ordered = sorted(before, key=lambda m: (aj.scale_set_of_ip_configuration(m["ipConfiguration"]) or "",
                                            int(aj.instance_of_ip_configuration(m["ipConfiguration"]) or 0)))
    return {id_key(m["ipConfiguration"]): {**m, "inboundNatRuleName": rule["name"], "frontendPort": start + i,
                                           "backendPort": rp.get("backendPort"), "protocol": rp.get("protocol")}
            for i, m in enumerate(ordered)}
