"""Pure edits of raw ARM bodies: apply planned changes to the resource as freshly read.

One registry, one vocabulary: every change kind registers the function that applies it to a body (``@edits``),
so a new kind of change is its class in :mod:`poolkeeper.changes` plus one registered edit here; the executor and
the tests' simulated ARM both apply changes through :func:`edit_resource`.

The executor reads each resource just before writing it and applies the planned changes to *that* body, so the
PUT carries every field as it is now, including changes other writers made since the snapshot. If the fresh body
makes a change impossible (another worker took the frontend port, the NIC lost its ipConfiguration) the edit
raises ``StaleChange`` and the reconciler re-plans from a new snapshot instead of writing something wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from poolkeeper import armjson as aj
from poolkeeper import flexrecord, upgraderecord
from poolkeeper.changes import (
    INTENT_TAG,
    OWNER_TAG,
    AddBackendPool,
    AddModelRef,
    AddNatRuleV2,
    AssignNatRule,
    Change,
    ClearIntent,
    ClearUpgradeRecord,
    CreateNatRule,
    DeleteLbChild,
    DeleteNatPool,
    DeleteNatRule,
    DropModelRef,
    EnsureNatRuleV2,
    JoinPool,
    LeavePool,
    RecordIntent,
    SetHealthProbe,
    SetRuleBackendPort,
    SetScaleSetModelPool,
    UnassignNatRule,
)
from poolkeeper.ids import same_id
from poolkeeper.maintenance import WIRED_TAG
from poolkeeper.model import LoadBalancer
from poolkeeper.ports import taken_ports

Raw = dict[str, Any]


class StaleChange(Exception):
    """The planned change no longer fits the resource as it is now; re-plan."""


class EditConflict(StaleChange):
    """A workflow's edit cannot be applied to the resource as it is now (another operation's intent is recorded,
    the rule to change is gone): the operation stops and keeps its intent recorded, for a person to look at."""


def _props(body: Raw) -> Raw:
    props = body.get("properties")
    if props is None:
        props = body["properties"] = {}
    return props


def _named(items: list[Raw], name: str) -> Raw | None:
    return next((i for i in items if str(i.get("name", "")).lower() == name.lower()), None)


def _refs(container: Raw, key: str) -> list[Raw]:
    refs = container.get(key)
    if refs is None:
        refs = container[key] = []
    return refs


def _has_ref(refs: list[Raw], target: str) -> bool:
    return any(same_id(r.get("id"), target) for r in refs)


def _drop_ref(refs: list[Raw], target: str) -> bool:
    before = len(refs)
    refs[:] = [r for r in refs if not same_id(r.get("id"), target)]
    return len(refs) != before


Edit = Callable[[Raw, Any], None]
C = TypeVar("C", bound=Change)

#: change kind → the function that applies one change of that kind to a (copied) body, in place
EDITS: dict[type[Change], Edit] = {}

_WHAT = {"loadBalancer": "load-balancer", "networkInterface": "NIC", "scaleSet": "scale-set model"}


def edits(kind: type[C]) -> Callable[[Callable[[Raw, C], None]], Callable[[Raw, C], None]]:
    """Register the edit that applies ``kind`` to a body of its ``target_kind``."""
    def register(fn: Callable[[Raw, C], None]) -> Callable[[Raw, C], None]:
        EDITS[kind] = fn
        return fn
    return register


def edit_resource(body: Raw, changes: Iterable[Change], target_kind: str) -> Raw:
    """Apply changes (all writing a resource of ``target_kind``) to a fresh body; returns a new body."""
    out = copy.deepcopy(body)
    changes = tuple(changes)
    for c in changes:
        edit = EDITS.get(type(c))
        if edit is None or c.target_kind != target_kind:
            raise TypeError(f"{c.kind} is not a {_WHAT.get(target_kind, target_kind)} change")
        edit(out, c)
    check = _CHECKS.get(target_kind)
    if check is not None:
        check(out, changes)
    return out


def edit_load_balancer(lb: Raw, changes: Iterable[Change]) -> Raw:
    """Apply NAT rule creations/deletions to a fresh load balancer body (returns a new body)."""
    return edit_resource(lb, changes, "loadBalancer")


def edit_nic(nic: Raw, changes: Iterable[Change]) -> Raw:
    """Apply pool memberships, NAT rule assignments and the ownership tag to a fresh NIC body (new body)."""
    return edit_resource(nic, changes, "networkInterface")


def edit_scale_set(vmss: Raw, changes: Iterable[Change]) -> Raw:
    """Add backend pools to a scale set's model (the instances follow on update-instances), recording in the same
    body which instances that makes out of date; or clear instances from that record (``upgraderecord``)."""
    return edit_resource(vmss, changes, "scaleSet")


# ---------------------------------------------------------------------------------------------------- load balancer
def _nat_rule_v1(c: CreateNatRule) -> Raw:
    return {
        "name": c.rule_name,
        "properties": {
            "frontendIPConfiguration": {"id": c.frontend_ip_configuration_id},
            "protocol": c.protocol,
            "frontendPort": c.frontend_port,
            "backendPort": c.backend_port,
            "enableFloatingIP": False,
            "idleTimeoutInMinutes": 4,
        },
    }


def _nat_rule_v2(c: EnsureNatRuleV2 | AddNatRuleV2, **settings: Any) -> Raw:
    """The body of a NAT rule V2; ``settings`` are the optional properties (``enableFloatingIP`` …)."""
    return {
        "name": c.rule_name,
        "properties": {
            "frontendIPConfiguration": {"id": c.frontend_ip_configuration_id},
            "backendAddressPool": {"id": c.pool_id},
            "protocol": c.protocol,
            "frontendPortRangeStart": c.frontend_port_range_start,
            "frontendPortRangeEnd": c.frontend_port_range_end,
            "backendPort": c.backend_port,
            **settings,
        },
    }


def _same_rule(existing: Raw, wanted: Raw) -> bool:
    have = existing.get("properties") or {}
    for key, value in wanted["properties"].items():
        if isinstance(value, dict):
            if not same_id((have.get(key) or {}).get("id"), value.get("id")):
                return False
        elif key in ("enableFloatingIP", "idleTimeoutInMinutes"):
            continue
        elif str(have.get(key, "")).lower() != str(value).lower():
            return False
    return True


def _nat_rules(lb: Raw) -> list[Raw]:
    rules: list[Raw] = _props(lb).setdefault("inboundNatRules", [])
    return rules


def _put_rule(lb: Raw, c: CreateNatRule | EnsureNatRuleV2, wanted: Raw, *, overwrite: bool) -> bool:
    """Put ``wanted`` in place of the rule of that name; False when it is already there as wanted."""
    rules = _nat_rules(lb)
    existing = _named(rules, c.rule_name)
    if existing is not None:
        if _same_rule(existing, wanted):
            return False
        if not overwrite:
            # the name is ours but it says something else now (edited by hand?): re-plan from fresh state
            raise StaleChange(f"NAT rule {c.rule_name} on {lb.get('name')} differs from the plan")
        rules.remove(existing)  # a deliberate rewrite (frontend/protocol changed, or V2 settings)
    return True


@edits(CreateNatRule)
def _create_nat_rule(lb: Raw, c: CreateNatRule) -> None:
    wanted = _nat_rule_v1(c)
    if _put_rule(lb, c, wanted, overwrite=c.replace):
        _nat_rules(lb).append(wanted)  # its port is checked once the whole batch is applied (_check_ports)


def _check_ports(lb: Raw, changes: Iterable[Change]) -> None:
    """Every per-VM rule created keeps its frontend port to itself, by the one port-occupancy rule
    (:func:`poolkeeper.ports.taken_ports`) over the body as it will be written (parsed once per batch)."""
    creates = [c for c in changes if isinstance(c, CreateNatRule)]
    if not creates:
        return
    view = LoadBalancer.from_arm(lb)
    for c in creates:
        if c.frontend_port in taken_ports(view, c.frontend_ip_configuration_id, c.protocol,
                                          exclude_rules=[c.rule_name]):
            raise StaleChange(f"frontend port {c.frontend_port} on {lb.get('name')} was taken meanwhile")


@edits(EnsureNatRuleV2)
def _ensure_nat_rule_v2(lb: Raw, c: EnsureNatRuleV2) -> None:
    wanted = _nat_rule_v2(c, enableFloatingIP=False, idleTimeoutInMinutes=4)
    if _put_rule(lb, c, wanted, overwrite=True):
        _nat_rules(lb).append(wanted)


@edits(DeleteNatRule)
def _delete_nat_rule(lb: Raw, c: DeleteNatRule) -> None:
    rules = _nat_rules(lb)
    existing = _named(rules, c.rule_name)
    if existing is not None:
        rules.remove(existing)


# ---------------------------------------------------------------------------------------------------- NIC
def _ip_config(nic: Raw, name: str) -> Raw:
    cfg = _named(_props(nic).get("ipConfigurations") or [], name)
    if cfg is None:
        raise StaleChange(f"NIC {nic.get('name')} has no ipConfiguration {name} any more")
    if cfg.get("properties") is None:
        cfg["properties"] = {}
    return cfg["properties"]


@edits(JoinPool)
def _join_pool(nic: Raw, c: JoinPool) -> None:
    pools = _refs(_ip_config(nic, c.ip_configuration), "loadBalancerBackendAddressPools")
    if not _has_ref(pools, c.pool_id):
        pools.append({"id": c.pool_id})
    tags = nic.get("tags") or {}
    tags[OWNER_TAG] = c.owner_tag
    nic["tags"] = tags


@edits(LeavePool)
def _leave_pool(nic: Raw, c: LeavePool) -> None:
    _drop_ref(_refs(_ip_config(nic, c.ip_configuration), "loadBalancerBackendAddressPools"), c.pool_id)
    if c.remove_owner_tag and nic.get("tags"):
        nic["tags"].pop(OWNER_TAG, None)
        nic["tags"].pop(WIRED_TAG, None)


@edits(AssignNatRule)
def _assign_nat_rule(nic: Raw, c: AssignNatRule) -> None:
    rules = _refs(_ip_config(nic, c.ip_configuration), "loadBalancerInboundNatRules")
    if not _has_ref(rules, c.rule_id):
        rules.append({"id": c.rule_id})
    if c.binding and (nic.get("tags") or {}).get(OWNER_TAG) != c.binding:
        # issue 12: record in Azure that poolkeeper wired this NIC (operator-pooled NICs have no owner tag), so its
        # later removal from the pool by a person is told apart from "never wired" (poolkeeper.maintenance)
        nic["tags"] = {**(nic.get("tags") or {}), WIRED_TAG: c.binding}


@edits(UnassignNatRule)
def _unassign_nat_rule(nic: Raw, c: UnassignNatRule) -> None:
    _drop_ref(_refs(_ip_config(nic, c.ip_configuration), "loadBalancerInboundNatRules"), c.rule_id)


# ---------------------------------------------------------------------------------------------------- scale set
def _same_etag(a: str | None, b: str | None) -> bool:
    """Compute ETags are quoted integers (``"3"``); compare them without quotes or a weak prefix."""
    def norm(e: str | None) -> str:
        return str(e or "").removeprefix("W/").strip('"')
    return norm(a) == norm(b)


@edits(ClearUpgradeRecord)
def _clear_upgrade_record(vmss: Raw, c: ClearUpgradeRecord) -> None:
    _set_record(vmss, upgraderecord.decode(vmss.get("tags")) - set(c.instance_ids))


@edits(SetScaleSetModelPool)
def _set_scale_set_model_pool(vmss: Raw, c: SetScaleSetModelPool) -> None:
    if c.model_etag is not None and vmss.get("etag") is not None and not _same_etag(c.model_etag, vmss["etag"]):
        # the model changed since the plan: recording "our" stale instances now could include someone else's
        raise StaleChange(f"scale set {vmss.get('name')} changed since it was planned (ETag {vmss['etag']})")
    profile = ((_props(vmss).get("virtualMachineProfile") or {}).get("networkProfile") or {})
    nic_cfg = _named(profile.get("networkInterfaceConfigurations") or [], c.nic_config)
    if nic_cfg is None:
        raise StaleChange(f"scale set {vmss.get('name')} has no NIC configuration {c.nic_config} any more")
    ip_cfg = _named((nic_cfg.get("properties") or {}).get("ipConfigurations") or [], c.ip_config)
    if ip_cfg is None:
        raise StaleChange(f"scale set {vmss.get('name')} has no ipConfiguration {c.ip_config} any more")
    pools = _refs(ip_cfg.setdefault("properties", {}), "loadBalancerBackendAddressPools")
    if not _has_ref(pools, c.pool_id):
        pools.append({"id": c.pool_id})
        if c.record_instance_ids:
            _set_record(vmss, upgraderecord.decode(vmss.get("tags")) | set(c.record_instance_ids))
        if c.flex_record:  # members created from now on are wired by the model: a later removal is a person's
            vmss["tags"] = flexrecord.with_record(vmss.get("tags"), c.flex_record)


# ---------------------------------------------------------------------------------------------------- workflows
def _replace(body: Raw, new: Raw) -> None:
    """Make ``body`` (the copy being edited) equal to ``new`` (armjson's helpers return edited copies)."""
    body.clear()
    body.update(new)


@edits(RecordIntent)
def _record_intent(lb: Raw, c: RecordIntent) -> None:
    current = aj.tags(lb).get(INTENT_TAG)
    if current and current != c.tag_value:
        raise EditConflict(
            f"another operation is recorded on {lb.get('id')} ({INTENT_TAG}={current}); finish it first "
            "(`python -m poolkeeper operation resume <id>`) or remove the tag if it is stale"
        )
    _replace(lb, aj.with_tag(lb, INTENT_TAG, c.tag_value))


@edits(ClearIntent)
def _clear_intent(lb: Raw, c: ClearIntent) -> None:
    if INTENT_TAG in aj.tags(lb):
        _replace(lb, aj.with_tag(lb, INTENT_TAG, None))


@edits(AddBackendPool)
def _add_backend_pool(lb: Raw, c: AddBackendPool) -> None:
    if aj.child(lb, "backendAddressPools", c.pool_name) is None:
        _replace(lb, aj.with_child(lb, "backendAddressPools", {"name": c.pool_name, "properties": {}}))


@edits(AddNatRuleV2)
def _add_nat_rule_v2(lb: Raw, c: AddNatRuleV2) -> None:
    if aj.child(lb, "inboundNatRules", c.rule_name) is not None:
        return
    settings = {"idleTimeoutInMinutes": c.idle_timeout_in_minutes, "enableFloatingIP": c.enable_floating_ip,
                "enableTcpReset": c.enable_tcp_reset}
    rule = _nat_rule_v2(c, **{k: v for k, v in settings.items() if v is not None})
    _replace(lb, aj.with_child(lb, "inboundNatRules", rule))


@edits(DeleteLbChild)
def _delete_lb_child(lb: Raw, c: DeleteLbChild) -> None:
    _replace(lb, aj.without_child(lb, c.collection, c.name))


@edits(DeleteNatPool)
def _delete_nat_pool(lb: Raw, c: DeleteNatPool) -> None:
    body = aj.without_child(lb, "inboundNatPools", c.pool_name)
    derived = {str(r.get("name", "")).lower() for r in aj.derived_rules(body, c.pool_name)}
    body["properties"]["inboundNatRules"] = [
        r for r in aj.children(body, "inboundNatRules") if str(r.get("name", "")).lower() not in derived
    ]
    _replace(lb, body)


@edits(SetRuleBackendPort)
def _set_rule_backend_port(lb: Raw, c: SetRuleBackendPort) -> None:
    rule = _named(_props(lb).get("loadBalancingRules") or [], c.rule_name)
    if rule is None:
        raise EditConflict(f"load-balancing rule {c.rule_name} is no longer on {lb.get('id')}")
    rule.setdefault("properties", {})["backendPort"] = c.backend_port


@edits(DropModelRef)
def _drop_model_ref(vmss: Raw, c: DropModelRef) -> None:
    _replace(vmss, aj.edit_model_refs(vmss, c.key, remove=c.ref_id))


@edits(AddModelRef)
def _add_model_ref(vmss: Raw, c: AddModelRef) -> None:
    if not aj.model_references(vmss, c.key, c.ref_id):
        _replace(vmss, aj.edit_model_refs(vmss, c.key, add=c.ref_id, add_where=c.beside))


@edits(SetHealthProbe)
def _set_health_probe(vmss: Raw, c: SetHealthProbe) -> None:
    if not same_id(aj.health_probe(vmss), c.probe_id) or (c.probe_id is None and aj.health_probe(vmss)):
        _replace(vmss, aj.with_health_probe(vmss, c.probe_id))


# Back-references the network provider computes on load-balancer children; pruned of children that are gone so a
# PUT never sends a reference to something the same PUT deletes.
_BACK_REFS = ("inboundNatPools", "inboundNatRules", "loadBalancingRules", "outboundRules")


def prune_back_references(lb: Raw) -> None:
    """Drop back-references (``frontendIPConfigurations[].properties.inboundNatPools`` …) to deleted children."""
    present = {aj.key(str(c.get("id", ""))) for col in aj.LB_COLLECTIONS for c in aj.children(lb, col) if c.get("id")}
    for collection in ("frontendIPConfigurations", "backendAddressPools", "probes"):
        for item in aj.children(lb, collection):
            p = item.get("properties") or {}
            for key in _BACK_REFS:
                if isinstance(p.get(key), list):
                    p[key] = [r for r in p[key] if not r.get("id") or aj.key(r["id"]) in present]


def _check_load_balancer(lb: Raw, changes: Iterable[Change]) -> None:
    """The whole edited load balancer: no back-reference to a child the write deletes, no frontend port taken."""
    prune_back_references(lb)
    _check_ports(lb, changes)


#: target kind → a check of the whole edited body (after every change of the batch is applied)
_CHECKS: dict[str, Callable[[Raw, Iterable[Change]], None]] = {"loadBalancer": _check_load_balancer}


def _set_record(body: Raw, instance_ids: set[str]) -> None:
    """Replace the upgrade record in ``body``'s tags; untouched when it already says this (no spurious write)."""
    if upgraderecord.decode(body.get("tags")) != instance_ids:
        body["tags"] = upgraderecord.with_record(body.get("tags"), instance_ids)
