"""The steps of an operation and the builders every workflow shares (the vocabulary of ``next_steps``).

Level-triggered: nothing here remembers what was done before. Each run reads the load balancer, the scale sets and
their instances, and a workflow's ``next_steps`` answers "what is left?" from that alone (plus the intent's resolved
parameters). The runner does the first step, reads again and asks again, so a run that was killed anywhere resumes at
the first step whose effect is not yet visible in Azure, and a finished operation has no step (no write).

Steps are data: which resource, which edits, which ARM calls. The edits are applied to the body as freshly read just
before the write (:mod:`poolkeeper.workflows.shell`), so concurrent changes by others are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from poolkeeper import armjson as aj
from poolkeeper.changes import (
    Change,
    ClearIntent,
    DeletePublicIp,
    RecordIntent,
    UpgradeBehindInstances,
    WaitForLatestModel,
    WriteBatch,
)
from poolkeeper.ids import id_key
from poolkeeper.model import Snapshot
from poolkeeper.workflows.intents import Intent

Raw = dict[str, Any]


@dataclass
class Step:
    """One step of an operation: a write (or a wait) on one resource.

    ``key`` is stable across runs (progress and the "no step repeated" checks use it); ``changes`` (registered change
    kinds, :mod:`poolkeeper.changes`) say what to change on the freshly read body, or which action the executor
    takes; ``calls`` are the ARM requests it makes, for dry runs and progress.
    """

    key: str
    kind: str  # lb-write | update-model | upgrade-instances | wait-instances | delete-public-ip
    title: str
    target: str
    changes: list[Change] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    batches: list[list[str]] = field(default_factory=list)
    phase: str = ""

    def batch(self) -> WriteBatch:
        """What the executor carries out for this step: one batch on the step's target."""
        changes = tuple(replace(c, reason=self.title) for c in self.changes)
        return WriteBatch(stage=changes[0].stage, target_kind=changes[0].target_kind, resource_id=self.target,
                          changes=changes)

    @property
    def writes(self) -> int:
        return sum(1 for c in self.calls if not c.startswith("GET"))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key, "kind": self.kind, "title": self.title, "target": self.target,
                               "phase": self.phase, "armCalls": list(self.calls)}
        if self.batches:
            out["batches"] = [list(b) for b in self.batches]
        return out


# ---------------------------------------------------------------------------------------------------- helpers
def _put(resource_id: str) -> str:
    return f"PUT {resource_id} (If-Match)"


def lb_step(lb_id: str, key: str, title: str, changes: list[Change], phase: str) -> Step:
    return Step(key, "lb-write", title, lb_id, changes, [_put(lb_id)], phase=phase)


def model_step(vmss: Raw, key: str, title: str, changes: list[Change], phase: str) -> Step:
    return Step(f"{key}:{vmss['name']}", "update-model", f"{title} ({vmss['name']})", vmss["id"], changes,
                [_put(vmss["id"])], phase=phase)


def delete_public_ip_step(public_ip_id: str, phase: str) -> Step:
    return Step("delete-public-ip", "delete-public-ip", f"delete public IP {aj.name_of(public_ip_id)}", public_ip_id,
                [DeletePublicIp(public_ip_id=public_ip_id)], calls=[f"DELETE {public_ip_id}"], phase=phase)


def instance_steps(vmss: Raw, pending: list[str], batch_size: int, phase: str, allow_rolling: bool) -> list[Step]:
    """Bring these instances to the latest model: Manual policy → manualUpgrade batches; otherwise wait for Azure."""
    if not pending:
        return []
    name, vid = vmss["name"], vmss["id"]
    mode = aj.upgrade_mode(vmss).lower()
    if mode == "manual":
        ids = aj.sort_instance_ids(pending)
        batches = [ids[i:i + batch_size] for i in range(0, len(ids), batch_size)]
        calls = [f"POST {vid}/manualUpgrade {{instanceIds: {len(b)}}}" for b in batches]
        return [Step(f"upgrade:{name}:{phase}", "upgrade-instances",
                     f"update {len(ids)} instance(s) of {name} to the new model in {len(batches)} batch(es)", vid,
                     [UpgradeBehindInstances(scale_set_id=vid, batch_size=batch_size)], calls=calls, batches=batches,
                     phase=phase)]
    how = "Automatic upgrade policy" if mode == "automatic" else "Rolling upgrade policy (allowRolling)"
    return [Step(f"wait:{name}:{phase}", "wait-instances",
                 f"wait for Azure to apply the model to {len(pending)} instance(s) of {name} ({how})", vid,
                 [WaitForLatestModel(scale_set_id=vid)], calls=[f"GET {vid}/virtualMachines (poll latestModelApplied)"],
                 phase=phase)]


def pending_after_model_change(snap: Snapshot, vmss: Raw, model_changes: bool) -> list[str]:
    instances = snap.instance_bodies(vmss["id"])
    if model_changes:  # every instance will be behind the model once it is written
        return [str(i.get("instanceId") or aj.name_of(str(i.get("id", "")))) for i in instances]
    return aj.pending_instances(instances)


def finish(intent: Intent, snap: Snapshot, work: list[Step]) -> list[Step]:
    """Wrap the work with the intent record: recorded with (or before) the first write, cleared with the last.

    - nothing to do and nothing recorded: done (no write at all);
    - nothing left but our record: one load-balancer write clears it;
    - the first write is a load-balancer write: the intent rides on it (same PUT, same If-Match);
    - otherwise a load-balancer write records it first; the last load-balancer write clears it when nothing
      follows it, else a final write does.
    """
    assert snap.focus_lb is not None
    lb_id = snap.focus_lb["id"]
    ours = recorded_is(intent, snap)
    clear = ClearIntent(lb_id=lb_id, binding=intent.id)
    if not work:
        if ours:
            return [lb_step(lb_id, "clear-intent", "clear the operation's intent record", [clear], "done")]
        return []
    steps = list(work)
    if not ours:
        record = RecordIntent(lb_id=lb_id, tag_value=intent.tag_value(), binding=intent.id)
        if steps[0].kind == "lb-write":
            steps[0].changes = [record, *steps[0].changes]
            steps[0].title += " + record the operation's intent"
        else:
            steps.insert(0, lb_step(lb_id, "record-intent", "record the operation's intent on the load balancer",
                                    [record], "intent"))
    if steps[-1].kind == "lb-write":
        steps[-1].changes = [*steps[-1].changes, clear]
        steps[-1].title += " + clear the intent record"
    else:
        steps.append(lb_step(lb_id, "clear-intent", "clear the operation's intent record", [clear], "done"))
    return steps


def recorded_is(intent: Intent, snap: Snapshot) -> bool:
    raw = snap.recorded_intent()
    if not raw:
        return False
    try:
        return Intent.from_tag(snap.focus_lb["id"], raw).id == intent.id  # type: ignore[index]
    except ValueError:
        return False


def affected_scale_sets(snap: Snapshot, intent: Intent, nat_pool_id: str | None) -> list[Raw]:
    """Scale sets the operation touches: named in the request, referencing the NAT pool in their model, or with
    instances still using it (the rules Azure derived from it name the instances)."""
    wanted = {id_key(s) for s in intent.scale_set_ids()}
    if nat_pool_id is not None and snap.focus_lb is not None:
        for rule in aj.derived_rules(snap.focus_lb, aj.name_of(nat_pool_id)):
            vmss_id = aj.scale_set_of_ip_configuration(aj.ref(aj.props(rule).get("backendIPConfiguration")) or "")
            if vmss_id:
                wanted.add(id_key(vmss_id))
    out = []
    for vmss in snap.scale_set_bodies():
        refs_pool = nat_pool_id is not None and aj.model_references(vmss, "loadBalancerInboundNatPools", nat_pool_id)
        if id_key(vmss["id"]) in wanted or refs_pool:
            out.append(vmss)
    return out


def count_calls(steps: list[Step]) -> dict[str, int]:
    """ARM writes the steps make, by kind of resource: what a dry run promises and the tests assert."""
    out = {"loadBalancerWrites": 0, "scaleSetWrites": 0, "manualUpgrades": 0, "deletes": 0}
    for s in steps:
        if s.kind == "lb-write":
            out["loadBalancerWrites"] += 1
        elif s.kind == "update-model":
            out["scaleSetWrites"] += 1
        elif s.kind == "upgrade-instances":
            out["manualUpgrades"] += len(s.batches)
        elif s.kind == "delete-public-ip":
            out["deletes"] += 1
    return out
