"""The typed changes a plan consists of, and the :class:`Plan` that orders and groups them.

Changes are data, not actions: the planner produces them, the executor turns them into ARM writes, a dry run prints
them. Every change carries the binding it serves and a human reason, so a log line or a dry-run report explains
itself. What the planner refuses or only flags changes nothing: it travels in the plan as a
:class:`~poolkeeper.findings.Finding` (:attr:`Plan.findings`), the one type of every refusal, note and report.

A change kind declares the resource it writes through its base: :class:`NicChange` (one NIC's ip configuration),
:class:`LoadBalancerChange` / :class:`NatRuleChange` (a load balancer, one of its NAT rules), :class:`ScaleSetChange`
(a scale set's model, record or instances); the NAT-pool workflows' kinds derive from :class:`OperationChange`.

Ownership conventions (shared with the executor):

* a NIC that poolkeeper put into a pool carries the tag ``poolkeeper.binding=<binding name>``
  (:data:`OWNER_TAG`); :class:`JoinPool` sets it in the same NIC write, :class:`LeavePool` with
  ``remove_owner_tag`` removes it;
* NAT rules poolkeeper creates are named with the prefix ``pk-`` (:data:`RULE_PREFIX`); only such rules are ever
  deleted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar, TypeVar

from poolkeeper.findings import Finding

OWNER_TAG = "poolkeeper.binding"
IGNORE_TAG = "poolkeeper.ignore"
#: records an unfinished NAT-pool workflow on its load balancer (``poolkeeper.workflows.intents``)
INTENT_TAG = "poolkeeper.operation"
RULE_PREFIX = "pk-"

_T = TypeVar("_T")

#: every change kind by name, filled by :meth:`Change.__init_subclass__`
CHANGE_TYPES: dict[str, type[Change]] = {}


def _short(resource_id: str) -> str:
    """The last segment of an id, for one-line descriptions (``myNic1``)."""
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True, kw_only=True)
class Change:
    """Base of every change. ``target_kind`` says which kind of resource the executor writes (a load balancer, a
    NIC, a scale set …) and :attr:`target_id` which one."""

    binding: str
    reason: str

    target_kind: ClassVar[str]
    #: the field that holds the id of the resource this change writes (``nic_id``, ``lb_id`` …)
    target_field: ClassVar[str]
    #: execution stage (one of :data:`STAGES`): when, relative to other writes, this change runs
    stage: ClassVar[str]
    #: order inside the stage (lower first); deletions of NAT rules go first so a freed port can be reused
    order_in_stage: ClassVar[int] = 1

    def __init_subclass__(cls, register: bool = True, **kwargs: Any) -> None:
        """Every change kind registers itself by name (``Plan.from_json``, dry-run JSON): one class, one entry.
        Bases that only share fields (``register=False``) are not kinds of change."""
        super().__init_subclass__(**kwargs)
        if register:
            CHANGE_TYPES[cls.__name__] = cls

    @property
    def kind(self) -> str:
        return type(self).__name__

    @property
    def target_id(self) -> str:
        """The id of the resource this change writes (what the executor PUTs)."""
        return str(getattr(self, self.target_field))

    def describe(self) -> str:
        raise NotImplementedError

    @property
    def identity(self) -> tuple[Any, ...]:
        """What the change does, without why: two changes with the same identity are the same write."""
        return (self.kind, *(getattr(self, f.name) for f in fields(self) if f.name not in ("binding", "reason")))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            out[_camel(f.name)] = list(value) if isinstance(value, tuple) else value
        out["description"] = self.describe()
        return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


# -- what a change writes: the bases of the kinds ---------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class NicChange(Change, register=False):
    """Base of the writes to one ip configuration of a NIC (one read-modify-write of the NIC per stage)."""

    nic_id: str
    ip_configuration: str
    target_kind: ClassVar[str] = "networkInterface"
    target_field: ClassVar[str] = "nic_id"


@dataclass(frozen=True, kw_only=True)
class LoadBalancerChange(Change, register=False):
    """Base of the writes to a load balancer (one read-modify-write of its body per stage)."""

    lb_id: str
    target_kind: ClassVar[str] = "loadBalancer"
    target_field: ClassVar[str] = "lb_id"
    stage: ClassVar[str] = "load-balancer"


@dataclass(frozen=True, kw_only=True)
class NatRuleChange(LoadBalancerChange, register=False):
    """Base of the writes to one inbound NAT rule of a load balancer, named ``rule_name``."""

    rule_name: str

    @property
    def rule_id(self) -> str:
        return f"{self.lb_id}/inboundNatRules/{self.rule_name}"


@dataclass(frozen=True, kw_only=True)
class ScaleSetChange(Change, register=False):
    """Base of the writes to a scale set: its model or upgrade record (read-modify-write), or its instances."""

    scale_set_id: str
    target_kind: ClassVar[str] = "scaleSet"
    target_field: ClassVar[str] = "scale_set_id"


# -- NIC writes ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class JoinPool(NicChange):
    """Ensure the ip configuration references the pool, and tag the NIC ``poolkeeper.binding=owner_tag``.

    Idempotent: also emitted to re-tag a NIC already in the pool that moved to another binding.
    """

    pool_id: str
    owner_tag: str
    stage: ClassVar[str] = "nic-join"

    def describe(self) -> str:
        return (f"join {_short(self.nic_id)}/{self.ip_configuration} to pool {_short(self.pool_id)} "
                f"(tag {OWNER_TAG}={self.owner_tag}): {self.reason}")


@dataclass(frozen=True, kw_only=True)
class LeavePool(NicChange):
    """Remove the pool from the ip configuration; with ``remove_owner_tag`` also drop the ownership tag."""

    pool_id: str
    remove_owner_tag: bool = True
    stage: ClassVar[str] = "nic-release"

    def describe(self) -> str:
        return f"remove {_short(self.nic_id)}/{self.ip_configuration} from pool {_short(self.pool_id)}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class AssignNatRule(NicChange):
    """Add the NAT rule to the ip configuration's ``loadBalancerInboundNatRules``."""

    rule_id: str
    stage: ClassVar[str] = "nic-join"

    def describe(self) -> str:
        return f"assign NAT rule {_short(self.rule_id)} to {_short(self.nic_id)}/{self.ip_configuration}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class UnassignNatRule(NicChange):
    """Remove the NAT rule from the ip configuration's ``loadBalancerInboundNatRules``."""

    rule_id: str
    stage: ClassVar[str] = "nic-release"

    def describe(self) -> str:
        return (f"unassign NAT rule {_short(self.rule_id)} from {_short(self.nic_id)}/{self.ip_configuration}: "
                f"{self.reason}")


# -- load balancer writes -----------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class CreateNatRule(NatRuleChange):
    """Create a V1 inbound NAT rule on the load balancer.

    ``replace`` is True when a rule of this name exists with other settings (the binding's frontend or protocol
    changed) and the planner means to overwrite it; False means "must not exist yet, or already be exactly this",
    so a differing rule found at apply time is a stale plan, not something to overwrite.
    """

    frontend_ip_configuration_id: str
    protocol: str
    frontend_port: int
    backend_port: int
    replace: bool = False

    def describe(self) -> str:
        return (f"{'replace' if self.replace else 'create'} NAT rule {self.rule_name} on {_short(self.lb_id)}: "
                f"{self.protocol} "
                f"{_short(self.frontend_ip_configuration_id)}:{self.frontend_port} -> {self.backend_port}: "
                f"{self.reason}")


@dataclass(frozen=True, kw_only=True)
class DeleteNatRule(NatRuleChange):
    """Delete a ``pk-`` NAT rule from the load balancer."""

    order_in_stage: ClassVar[int] = 0

    def describe(self) -> str:
        return f"delete NAT rule {self.rule_name} from {_short(self.lb_id)}: {self.reason}"


@dataclass(frozen=True, kw_only=True)
class EnsureNatRuleV2(NatRuleChange):
    """Create or update a NAT rule V2 (``backendAddressPool`` + frontend port range); Azure maps ports to members."""

    frontend_ip_configuration_id: str
    protocol: str
    frontend_port_range_start: int
    frontend_port_range_end: int
    backend_port: int
    pool_id: str

    def describe(self) -> str:
        return (f"ensure NAT rule V2 {self.rule_name} on {_short(self.lb_id)}: {self.protocol} "
                f"{_short(self.frontend_ip_configuration_id)}:{self.frontend_port_range_start}-"
                f"{self.frontend_port_range_end} -> pool {_short(self.pool_id)}:{self.backend_port}: {self.reason}")


# -- scale-set writes ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SetScaleSetModelPool(ScaleSetChange):
    """Add the pool to the scale-set model's ip configuration (``virtualMachineProfile.networkProfile``).

    ``record_instance_ids``: the instances this write makes out of date (they ran the latest model until now); the
    same PUT adds them to the scale set's upgrade record (:mod:`poolkeeper.upgraderecord`), which is what allows
    poolkeeper to upgrade them — and only them — afterwards, even after a crash. ``model_etag`` is the scale set's
    ETag when planned: if the model changed since (someone else's change), the write is re-planned rather than
    recording instances that someone else's change made stale.

    ``flex_record``: for a Flexible scale set, the value of the ``poolkeeper.flexwired`` tag the same PUT writes
    (:mod:`poolkeeper.flexrecord`): members created after its time were created in the pool, so one found outside
    it was taken out by a person. ``write_by``: the write must start before this UTC time or be re-planned
    (:func:`poolkeeper.flexrecord.write_by`: a late write would make that record claim too much).
    """

    nic_config: str
    ip_config: str
    pool_id: str
    record_instance_ids: tuple[str, ...] = ()
    model_etag: str | None = None
    flex_record: str | None = None
    write_by: str | None = None
    stage: ClassVar[str] = "scale-set-model"

    def describe(self) -> str:
        return (f"add pool {_short(self.pool_id)} to scale set {_short(self.scale_set_id)} model "
                f"{self.nic_config}/{self.ip_config}: {self.reason}")


@dataclass(frozen=True, kw_only=True)
class UpgradeInstances(ScaleSetChange):
    """``manualUpgrade`` these instances so they pick up the model (one call per change, at most ``batch_size``)."""

    instance_ids: tuple[str, ...]
    batch_size: int
    target_kind: ClassVar[str] = "scaleSetInstances"
    stage: ClassVar[str] = "scale-set-upgrade"

    def describe(self) -> str:
        return (f"upgrade instances {', '.join(self.instance_ids)} of scale set {_short(self.scale_set_id)} "
                f"to the latest model: {self.reason}")


@dataclass(frozen=True, kw_only=True)
class ClearUpgradeRecord(ScaleSetChange):
    """Remove these instances from the scale set's upgrade record: upgraded (earlier in the plan) or gone."""

    instance_ids: tuple[str, ...]
    stage: ClassVar[str] = "scale-set-record"

    def describe(self) -> str:
        return (f"clear instances {', '.join(self.instance_ids)} from the upgrade record of scale set "
                f"{_short(self.scale_set_id)}: {self.reason}")


# -- NAT-pool workflow writes --------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OperationChange(Change, register=False):
    """Base of the changes a NAT-pool workflow step makes (``poolkeeper.workflows``): ``binding`` holds the
    operation id, ``reason`` the step's title. They run one step at a time, not through :meth:`Plan.of`."""

    binding: str = ""
    reason: str = ""

    def describe(self) -> str:
        what = ", ".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self)
                         if f.name not in ("binding", "reason", "lb_id", "scale_set_id"))
        return f"{self.kind} {_short(self.target_id)} ({what}): {self.reason}"


@dataclass(frozen=True, kw_only=True)
class LoadBalancerOperationChange(OperationChange, LoadBalancerChange, register=False):
    """A workflow's change to its load balancer: the changes of one step are one read-modify-write under If-Match
    (``mutations.edit_resource``, then the load balancer's whole-body check)."""


@dataclass(frozen=True, kw_only=True)
class ScaleSetOperationChange(OperationChange, ScaleSetChange, register=False):
    """A workflow's change to a scale set: its model (read-modify-write), or an action on its instances (the kind
    then names another target kind)."""

    stage: ClassVar[str] = "scale-set-model"


@dataclass(frozen=True, kw_only=True)
class RecordIntent(LoadBalancerOperationChange):
    """Record the operation's intent as a tag on its load balancer (refused if another operation's is there)."""

    tag_value: str


@dataclass(frozen=True, kw_only=True)
class ClearIntent(LoadBalancerOperationChange):
    """Remove the operation's intent tag from the load balancer (the operation is finished)."""


@dataclass(frozen=True, kw_only=True)
class AddBackendPool(LoadBalancerOperationChange):
    """Create an empty backend pool (the scale-set models then reference it)."""

    pool_name: str


@dataclass(frozen=True, kw_only=True)
class AddNatRuleV2(EnsureNatRuleV2):
    """Create the NAT rule V2 that takes over a NAT pool (a workflow's change): its frontend, port range, protocol,
    backend port and optional settings as the pool had them (:class:`EnsureNatRuleV2` sets its own); an existing
    rule of that name is kept, never overwritten."""

    binding: str = ""
    reason: str = ""
    idle_timeout_in_minutes: int | None = None
    enable_floating_ip: bool | None = None
    enable_tcp_reset: bool | None = None


@dataclass(frozen=True, kw_only=True)
class DeleteLbChild(LoadBalancerOperationChange):
    """Delete a load balancer's child by name (``collection``: ``frontendIPConfigurations``, ``inboundNatRules``).
    Azure refuses to delete a child another still references (``InvalidResourceReference``): checked beforehand."""

    collection: str
    name: str


@dataclass(frozen=True, kw_only=True)
class DeleteNatPool(LoadBalancerOperationChange):
    """Delete a NAT pool and the per-instance rules Azure derived from it (``{pool}.{instanceId}``)."""

    pool_name: str


@dataclass(frozen=True, kw_only=True)
class SetRuleBackendPort(LoadBalancerOperationChange):
    """Change a load-balancing rule's backend port (refused as stale if the rule is gone). Azure refuses it while a
    scale-set model uses the rule's probe as its health probe, so change-probed-port detaches the probe first."""

    rule_name: str
    backend_port: int


@dataclass(frozen=True, kw_only=True)
class DropModelRef(ScaleSetOperationChange):
    """Remove a reference (``key``: ``loadBalancerInboundNatPools`` …) from every ipConfiguration of the model."""

    key: str
    ref_id: str


@dataclass(frozen=True, kw_only=True)
class AddModelRef(ScaleSetOperationChange):
    """Add a reference under ``key`` to the ipConfigurations that referenced ``beside`` (a NAT pool), or else to the
    primary one; nothing if the model already references it."""

    key: str
    ref_id: str
    beside: str | None = None


@dataclass(frozen=True, kw_only=True)
class SetHealthProbe(ScaleSetOperationChange):
    """Set the model's health probe (None: detach it)."""

    probe_id: str | None


@dataclass(frozen=True, kw_only=True)
class UpgradeBehindInstances(ScaleSetOperationChange):
    """``manualUpgrade`` the instances that are behind the model as listed at execution time (level-triggered),
    ``batch_size`` per call; a run's deadline stops it between calls."""

    batch_size: int
    target_kind: ClassVar[str] = "scaleSetLatestModel"
    stage: ClassVar[str] = "scale-set-upgrade"


@dataclass(frozen=True, kw_only=True)
class WaitForLatestModel(ScaleSetOperationChange):
    """Wait until Azure has applied the model to every instance (Automatic or Rolling upgrade policy)."""

    target_kind: ClassVar[str] = "scaleSetWait"
    stage: ClassVar[str] = "scale-set-upgrade"


@dataclass(frozen=True, kw_only=True)
class DeletePublicIp(OperationChange):
    """Delete a public IP address (its frontend was deleted by an earlier step)."""

    public_ip_id: str
    target_kind: ClassVar[str] = "publicIpDelete"
    target_field: ClassVar[str] = "public_ip_id"
    stage: ClassVar[str] = "load-balancer"


def change_from_dict(data: dict[str, Any]) -> Change:
    """Inverse of :meth:`Change.to_dict` (the ``description`` key is ignored)."""
    cls = CHANGE_TYPES.get(str(data.get("kind")))
    if cls is None:
        raise ValueError(f"unknown change kind {data.get('kind')!r}; known: {', '.join(sorted(CHANGE_TYPES))}")
    names = {f.name for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        name = _snake(key)
        if name in names:
            kwargs[name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


# -- plan ---------------------------------------------------------------------------------------------------------

# Execution stages. A NIC's releases run before the load-balancer write (so a rule is unreferenced before it is
# deleted), load-balancer writes run before NIC joins (so a NAT rule exists before a NIC references it), the
# scale-set model before the instance upgrades that apply it, and those before the upgrade record is cleared.
STAGES: tuple[str, ...] = ("nic-release", "load-balancer", "nic-join", "scale-set-model", "scale-set-upgrade",
                           "scale-set-record")


def _first_of_each(items: Iterable[_T], key: Callable[[_T], Hashable]) -> list[_T]:
    """The items in order, without those whose key an earlier one had."""
    seen: set[Hashable] = set()
    out: list[_T] = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def stage_of(change: Change) -> str:
    """The stage a change runs in (declared by its class)."""
    return change.stage


@dataclass(frozen=True)
class WriteBatch:
    """All changes of one stage to one resource: one ARM write (one PUT; upgrades: one call per change)."""

    stage: str
    target_kind: str
    resource_id: str
    changes: tuple[Change, ...]


@dataclass(frozen=True)
class Plan:
    """What one planning run decided: the writes (:attr:`changes`, ordered and de-duplicated) and what it refuses or
    only flags (:attr:`findings`, in the order found). Findings write nothing: a plan of findings alone is empty."""

    changes: tuple[Change, ...] = ()
    findings: tuple[Finding, ...] = ()

    @classmethod
    def of(cls, changes: Iterable[Change], findings: Iterable[Finding] = ()) -> Plan:
        """Order the changes by stage (stable within a stage) and drop duplicates: the same write (first reason
        kept), the same finding (for several bindings: the first binding kept)."""
        order = {s: i for i, s in enumerate(STAGES)}
        # Within a stage, ``order_in_stage`` (deletions of NAT rules first: a port freed by a deleted rule may be
        # reused by a rule created in the same plan).
        ordered = sorted(_first_of_each(changes, lambda c: c.identity),
                         key=lambda c: (order[c.stage], c.order_in_stage))
        return cls(tuple(ordered), tuple(_first_of_each(findings, lambda f: f.identity)))

    def with_changes(self, changes: Iterable[Change]) -> Plan:
        """Other changes, this plan's findings: how a guardrail screen, a limit or a sweep's fixes rewrite a plan
        without losing what it reports."""
        return Plan.of(changes, self.findings)

    @property
    def is_empty(self) -> bool:
        """True when nothing would be written (findings alone do not count)."""
        return not self.changes

    def group_by_resource(self) -> tuple[WriteBatch, ...]:
        """Changes grouped into one batch per (stage, resource), in execution order.

        A NIC that both leaves and joins appears in two batches (release stage, join stage) because the load
        balancer write in between must see the release and precede the join.
        """
        batches: dict[tuple[str, str], list[Change]] = {}
        for c in self.changes:
            batches.setdefault((c.stage, c.target_id.lower()), []).append(c)
        order = {s: i for i, s in enumerate(STAGES)}
        out = [WriteBatch(stage=stage, target_kind=cs[0].target_kind, resource_id=cs[0].target_id, changes=tuple(cs))
               for (stage, _), cs in batches.items()]
        out.sort(key=lambda b: order[b.stage])  # stable: keeps first-seen order within a stage
        return tuple(out)

    def describe(self) -> str:
        lines = [c.describe() for c in self.changes] + [f.describe() for f in self.findings]
        return "\n".join(lines) if lines else "nothing to do"

    def to_dict(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for c in self.changes:
            counts[c.kind] = counts.get(c.kind, 0) + 1
        return {"changes": [c.to_dict() for c in self.changes], "findings": [f.to_dict() for f in self.findings],
                "summary": counts, "empty": self.is_empty}

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(tuple(change_from_dict(c) for c in data.get("changes", [])),
                   tuple(Finding.from_dict(f) for f in data.get("findings", [])))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls.from_dict(json.loads(text))

    def __len__(self) -> int:
        return len(self.changes)

    def __iter__(self) -> Iterator[Change]:
        return iter(self.changes)
