"""What every planning phase reads (:class:`Context`, never changed) and what the phases hand on (:class:`Draft`).

A phase is a function ``(Context, Draft) -> Draft``: it reads the configuration and the snapshot from the context,
reads what earlier phases decided from the draft, and returns a new draft with its own decisions added. Drafts are
frozen; a phase gathers its additions in a :class:`Work` (local to that call) and returns ``work.done()``. What a
phase refuses or only flags is a :class:`~poolkeeper.findings.Finding` (``work.report``), gathered apart from the
changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from poolkeeper.changes import RULE_PREFIX, Change, DeleteNatRule, UnassignNatRule
from poolkeeper.config import Binding, Config
from poolkeeper.findings import Finding, planner_finding
from poolkeeper.ids import id_key, in_scope, parent_key, same_id
from poolkeeper.model import BackendPool, Frontend, IpConfiguration, LoadBalancer, Nic, ScaleSet, Snapshot, Vm


@dataclass(frozen=True)
class Context:
    """The inputs of one planning run: configuration, snapshot, and the resources an event-driven run considers."""

    config: Config
    snapshot: Snapshot
    only: frozenset[str] | None = None  # lower-cased ids; None: a full reconcile of everything in scope

    @classmethod
    def of(cls, config: Config, snapshot: Snapshot, only: Iterable[str] | None) -> Context:
        return cls(config, snapshot, None if only is None else frozenset(id_key(i) for i in only))

    @property
    def now(self) -> datetime | None:
        """The planner's only clock: when the snapshot was read (``Snapshot.read_at``; tests set it). None when
        unknown: no Flexible wired record is written then (:mod:`poolkeeper.flexrecord`)."""
        return self.snapshot.read_at

    def in_scope(self, resource_id: str) -> bool:
        return in_scope(resource_id, self.config.scopes)

    def considers_vm(self, vm: Vm) -> bool:
        if self.only is None:
            return True
        keys = {vm.key, *(id_key(n) for n in vm.nic_ids)}
        if vm.scale_set_id:
            keys.add(id_key(vm.scale_set_id))
        return bool(keys & self.only)

    def considers_scale_set(self, ss: ScaleSet) -> bool:
        if self.only is None:
            return True
        return any(k == ss.key or k.startswith(ss.key + "/") for k in self.only)


@dataclass(frozen=True)
class Selection:
    """Which binding a VM or scale set belongs to (``ignored``: opted out, or its binding tag is unknown)."""

    binding: Binding | None = None
    ignored: bool = False


@dataclass(frozen=True)
class Target:
    """A binding resolved against the snapshot: its load balancer, pool, and (if it manages NAT) frontend."""

    binding: Binding
    lb: LoadBalancer
    pool: BackendPool
    frontend: Frontend | None
    nat_refusal: Finding | None = None  # why NAT rules are not managed for this binding (reported once)


@dataclass(frozen=True)
class PortRequest:
    """A per-VM rule that needs a (new) frontend port, decided once every deletion in the plan is known."""

    vm: Vm
    target: Target
    rule_name: str
    keep_port: int | None  # the existing rule's port, kept if still free
    assign: Change | None  # its AssignNatRule, dropped if no port can be found and the rule does not exist yet
    exists: bool


@dataclass(frozen=True)
class Draft:
    """What the phases so far decided. Each field is written by the phase named in its comment."""

    changes: tuple[Change, ...] = ()  # every phase
    findings: tuple[Finding, ...] = ()  # every phase: what it refuses or only flags
    vm_selection: Mapping[str, Selection] = field(default_factory=dict)  # select: vm key → selection
    ss_selection: Mapping[str, Selection] = field(default_factory=dict)  # select: scale-set key → selection
    flex_selection: Mapping[str, Selection] = field(default_factory=dict)  # select: Flexible scale sets, likewise
    targets: Mapping[str, Target | None] = field(default_factory=dict)  # resolve_targets: binding name → target
    unassigned: frozenset[tuple[str, str]] = frozenset()  # (ip configuration key, rule key) released by the plan
    leaving: frozenset[tuple[str, str]] = frozenset()  # release: (ip configuration key, pool key)
    wanted_rules: frozenset[str] = frozenset()  # NAT rule keys some subject needs (never deleted)
    port_requests: tuple[PortRequest, ...] = ()  # joins: per-VM rules waiting for a port
    pool_rule_requests: tuple[Target, ...] = ()  # want_pool_rules: NAT rules V2 waiting for their range

    def target(self, b: Binding) -> Target | None:
        return self.targets.get(b.name)

    def with_(self, **changes: Any) -> Draft:
        return replace(self, **changes)


class Work:
    """The additions of one phase call, gathered while it runs (local: never shared between phases)."""

    def __init__(self, ctx: Context, draft: Draft) -> None:
        self.ctx = ctx
        self.draft = draft
        self.changes: list[Change] = list(draft.changes)
        self.findings: list[Finding] = list(draft.findings)
        self.unassigned: set[tuple[str, str]] = set(draft.unassigned)
        self.wanted_rules: set[str] = set(draft.wanted_rules)

    def add(self, change: Change) -> Change:
        self.changes.append(change)
        return change

    def report(self, subject_id: str, binding: str, code: str, message: str) -> Finding:
        """Refuse or flag something about ``subject_id`` instead of changing it (``code``: the rule)."""
        return self.found(planner_finding(code, subject_id, message, binding=binding))

    def found(self, finding: Finding) -> Finding:
        self.findings.append(finding)
        return finding

    def unassign(self, nic: Nic, ic: IpConfiguration, rule_id: str, binding: str, reason: str) -> None:
        self.unassigned.add((id_key(ic.id), id_key(rule_id)))
        self.add(UnassignNatRule(nic_id=nic.id, ip_configuration=ic.name, rule_id=rule_id, binding=binding,
                                 reason=reason))

    def delete_if_sole(self, lb: LoadBalancer | None, ic: IpConfiguration, rule_id: str, binding: str,
                       reason: str) -> None:
        """Delete a per-VM rule once its only target lets go of it (V2 rules belong to a pool, not a VM)."""
        if lb is None:
            return
        rule = lb.nat_rule(rule_id.rstrip("/").rsplit("/", 1)[-1])
        if rule is None or rule.is_v2:
            return
        if rule.backend_ip_configuration_id and not same_id(rule.backend_ip_configuration_id, ic.id):
            return
        others = [o for _, o in self.ctx.snapshot.nat_rule_referrers(rule.id)
                  if not same_id(o.id, ic.id) and (id_key(o.id), id_key(rule.id)) not in self.unassigned]
        if not others:
            self.add(DeleteNatRule(lb_id=lb.id, rule_name=rule.name, binding=binding, reason=reason))

    def done(self, **fields: Any) -> Draft:
        return self.draft.with_(changes=tuple(self.changes), findings=tuple(self.findings),
                                unassigned=frozenset(self.unassigned),
                                wanted_rules=frozenset(self.wanted_rules), **fields)


def owned_rule_on(rule_id: str, lb_id: str) -> bool:
    """A ``pk-`` rule on this load balancer."""
    return parent_key(rule_id) == id_key(lb_id) and rule_id.rstrip("/").rsplit("/", 1)[-1].lower().startswith(
        RULE_PREFIX)


def tag_value(tags: Mapping[str, str], key: str) -> str | None:
    """Azure tag names are case-insensitive; values are not."""
    lowered = key.lower()
    for k, v in tags.items():
        if k.lower() == lowered:
            return v
    return None


def sorted_values(items: Mapping[str, Any]) -> list[Any]:
    """Values of an id-keyed mapping in key order: the one source of determinism."""
    return [items[k] for k in sorted(items)]


def deleting(state: str | None) -> bool:
    return (state or "").lower() == "deleting"


def sorted_ids(ids: Iterable[str]) -> tuple[str, ...]:
    return tuple(sorted(set(ids), key=instance_sort_key))


def instance_sort_key(instance_id: str) -> tuple[int, str]:
    return (0, f"{int(instance_id):012d}") if instance_id.isdigit() else (1, instance_id)
