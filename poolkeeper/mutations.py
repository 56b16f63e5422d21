"""Pure edits of raw ARM bodies: apply planned changes to the resource as freshly read.

The executor reads each resource just before writing it and applies the planned changes to *that* body, so the
PUT carries every field as it is now, including changes other writers made since the snapshot. If the fresh body
makes a change impossible (another worker took the frontend port, the NIC lost its ipConfiguration) the edit
raises ``StaleChange`` and the reconciler re-plans from a new snapshot instead of writing something wrong.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from poolkeeper import upgraderecord
from poolkeeper.changes import (
    OWNER_TAG,
    AssignNatRule,
    Change,
    ClearUpgradeRecord,
    CreateNatRule,
    DeleteNatRule,
    EnsureNatRuleV2,
    JoinPool,
    LeavePool,
    SetScaleSetModelPool,
    UnassignNatRule,
)
from poolkeeper.ids import same_id
from poolkeeper.maintenance import WIRED_TAG

Raw = dict[str, Any]


class StaleChange(Exception):
    """The planned change no longer fits the resource as it is now; re-plan."""


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


# ---------------------------------------------------------------------------------------------------- load balancer
def _taken_ports(lb: Raw, frontend_id: str, protocol: str, *, except_rule: str) -> set[int]:
    """Frontend ports already used on this frontend+protocol by other NAT rules, NAT pools and LB rules."""
    taken: set[int] = set()
    props = _props(lb)

    def same_frontend(p: Raw) -> bool:
        return same_id((p.get("frontendIPConfiguration") or {}).get("id"), frontend_id)

    def same_protocol(p: Raw) -> bool:
        proto = str(p.get("protocol", "")).lower()
        return proto in (protocol.lower(), "all") or protocol.lower() == "all"

    for rule in props.get("inboundNatRules") or []:
        if str(rule.get("name", "")).lower() == except_rule.lower():
            continue
        p = rule.get("properties") or {}
        if not (same_frontend(p) and same_protocol(p)):
            continue
        if p.get("frontendPort"):
            taken.add(int(p["frontendPort"]))
        if p.get("frontendPortRangeStart") and p.get("frontendPortRangeEnd"):
            taken.update(range(int(p["frontendPortRangeStart"]), int(p["frontendPortRangeEnd"]) + 1))
    for pool in props.get("inboundNatPools") or []:
        p = pool.get("properties") or {}
        if same_frontend(p) and same_protocol(p):
            taken.update(range(int(p.get("frontendPortRangeStart", 0)), int(p.get("frontendPortRangeEnd", -1)) + 1))
    for rule in props.get("loadBalancingRules") or []:
        p = rule.get("properties") or {}
        if same_frontend(p) and same_protocol(p) and p.get("frontendPort"):
            taken.add(int(p["frontendPort"]))
    return taken


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


def _nat_rule_v2(c: EnsureNatRuleV2) -> Raw:
    return {
        "name": c.rule_name,
        "properties": {
            "frontendIPConfiguration": {"id": c.frontend_ip_configuration_id},
            "backendAddressPool": {"id": c.pool_id},
            "protocol": c.protocol,
            "frontendPortRangeStart": c.frontend_port_range_start,
            "frontendPortRangeEnd": c.frontend_port_range_end,
            "backendPort": c.backend_port,
            "enableFloatingIP": False,
            "idleTimeoutInMinutes": 4,
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


def edit_load_balancer(lb: Raw, changes: Iterable[Change]) -> Raw:
    """Apply NAT rule creations/deletions to a fresh load balancer body (returns a new body)."""
    out = copy.deepcopy(lb)
    rules: list[Raw] = _props(out).setdefault("inboundNatRules", [])
    for c in changes:
        if isinstance(c, CreateNatRule | EnsureNatRuleV2):
            wanted = _nat_rule_v1(c) if isinstance(c, CreateNatRule) else _nat_rule_v2(c)
            existing = _named(rules, c.rule_name)
            if existing is not None:
                if _same_rule(existing, wanted):
                    continue
                if isinstance(c, CreateNatRule) and not c.replace:
                    # the name is ours but it says something else now (edited by hand?): re-plan from fresh state
                    raise StaleChange(f"NAT rule {c.rule_name} on {lb.get('name')} differs from the plan")
                rules.remove(existing)  # a deliberate rewrite (frontend/protocol changed, or V2 settings)
            if isinstance(c, CreateNatRule):
                taken = _taken_ports(out, c.frontend_ip_configuration_id, c.protocol, except_rule=c.rule_name)
                if c.frontend_port in taken:
                    raise StaleChange(f"frontend port {c.frontend_port} on {lb.get('name')} was taken meanwhile")
            rules.append(wanted)
        elif isinstance(c, DeleteNatRule):
            existing = _named(rules, c.rule_name)
            if existing is not None:
                rules.remove(existing)
        else:
            raise TypeError(f"{c.kind} is not a load-balancer change")
    return out


# ---------------------------------------------------------------------------------------------------- NIC
def _ip_config(nic: Raw, name: str) -> Raw:
    cfg = _named(_props(nic).get("ipConfigurations") or [], name)
    if cfg is None:
        raise StaleChange(f"NIC {nic.get('name')} has no ipConfiguration {name} any more")
    if cfg.get("properties") is None:
        cfg["properties"] = {}
    return cfg["properties"]


def edit_nic(nic: Raw, changes: Iterable[Change]) -> Raw:
    """Apply pool memberships, NAT rule assignments and the ownership tag to a fresh NIC body (new body)."""
    out = copy.deepcopy(nic)
    for c in changes:
        if isinstance(c, JoinPool):
            pools = _refs(_ip_config(out, c.ip_configuration), "loadBalancerBackendAddressPools")
            if not _has_ref(pools, c.pool_id):
                pools.append({"id": c.pool_id})
            tags = out.get("tags") or {}
            tags[OWNER_TAG] = c.owner_tag
            out["tags"] = tags
        elif isinstance(c, LeavePool):
            _drop_ref(_refs(_ip_config(out, c.ip_configuration), "loadBalancerBackendAddressPools"), c.pool_id)
            if c.remove_owner_tag and out.get("tags"):
                out["tags"].pop(OWNER_TAG, None)
                out["tags"].pop(WIRED_TAG, None)
        elif isinstance(c, AssignNatRule):
            rules = _refs(_ip_config(out, c.ip_configuration), "loadBalancerInboundNatRules")
            if not _has_ref(rules, c.rule_id):
                rules.append({"id": c.rule_id})
            if c.binding and (out.get("tags") or {}).get(OWNER_TAG) != c.binding:
                # issue 12: record in Azure that poolkeeper wired this NIC (operator-pooled NICs have no owner tag),
                # so its later removal from the pool by a person is told apart from "never wired" (maintenance)
                out["tags"] = {**(out.get("tags") or {}), WIRED_TAG: c.binding}
        elif isinstance(c, UnassignNatRule):
            _drop_ref(_refs(_ip_config(out, c.ip_configuration), "loadBalancerInboundNatRules"), c.rule_id)
        else:
            raise TypeError(f"{c.kind} is not a NIC change")
    return out


# ---------------------------------------------------------------------------------------------------- scale set
def _same_etag(a: str | None, b: str | None) -> bool:
    """Compute ETags are quoted integers (``"3"``); compare them without quotes or a weak prefix."""
    def norm(e: str | None) -> str:
        return str(e or "").removeprefix("W/").strip('"')
    return norm(a) == norm(b)


def edit_scale_set(vmss: Raw, changes: Iterable[Change]) -> Raw:
    """Add backend pools to a scale set's model (the instances follow on update-instances), recording in the same
    body which instances that makes out of date; or clear instances from that record (``upgraderecord``)."""
    out = copy.deepcopy(vmss)
    for c in changes:
        if isinstance(c, ClearUpgradeRecord):
            _set_record(out, upgraderecord.decode(out.get("tags")) - set(c.instance_ids))
            continue
        if not isinstance(c, SetScaleSetModelPool):
            raise TypeError(f"{c.kind} is not a scale-set model change")
        if c.model_etag is not None and vmss.get("etag") is not None and not _same_etag(c.model_etag, vmss["etag"]):
            # the model changed since the plan: recording "our" stale instances now could include someone else's
            raise StaleChange(f"scale set {vmss.get('name')} changed since it was planned (ETag {vmss['etag']})")
        profile = ((_props(out).get("virtualMachineProfile") or {}).get("networkProfile") or {})
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
                _set_record(out, upgraderecord.decode(out.get("tags")) | set(c.record_instance_ids))
    return out


def _set_record(body: Raw, instance_ids: set[str]) -> None:
    """Replace the upgrade record in ``body``'s tags; untouched when it already says this (no spurious write)."""
    if upgraderecord.decode(body.get("tags")) != instance_ids:
        body["tags"] = upgraderecord.with_record(body.get("tags"), instance_ids)
