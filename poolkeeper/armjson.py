"""Pure reads and edits of raw ARM JSON (load balancers, scale-set models, instances) for the workflows.

The workflows read and write whole bodies as ARM returns them, so that a read-modify-write keeps every field another
writer set (a rule someone added between our read and our write is sent back untouched). These helpers name the few
paths the workflows care about, compare ids case-insensitively (ARM ids are), and never mutate their input.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from poolkeeper.ids import ResourceId, id_key, same_id

Raw = dict[str, Any]

LB_COLLECTIONS = (
    "frontendIPConfigurations", "backendAddressPools", "loadBalancingRules", "probes", "inboundNatRules",
    "inboundNatPools", "outboundRules",
)


def props(body: Raw | None) -> Raw:
    """``body.properties`` (an empty dict when absent)."""
    return (body or {}).get("properties") or {}


def children(lb: Raw, collection: str) -> list[Raw]:
    """A load balancer's child collection (``inboundNatPools`` …) as a list, possibly empty."""
    return list(props(lb).get(collection) or [])


def child(lb: Raw, collection: str, name: str) -> Raw | None:
    """The named child (case-insensitive), or None."""
    return next((c for c in children(lb, collection) if str(c.get("name", "")).lower() == name.lower()), None)


def child_id(lb_id: str, collection: str, name: str) -> str:
    return f"{lb_id.rstrip('/')}/{collection}/{name}"


def ref(value: Any) -> str | None:
    """The id of a ``{"id": ...}`` reference."""
    return value.get("id") if isinstance(value, dict) else None


def ref_ids(values: Any) -> list[str]:
    return [v["id"] for v in values or [] if isinstance(v, dict) and v.get("id")]


def name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def sku_name(lb: Raw) -> str:
    return str(((lb or {}).get("sku") or {}).get("name") or "Basic")


def tags(body: Raw | None) -> dict[str, str]:
    return dict((body or {}).get("tags") or {})


# ---------------------------------------------------------------------------------------------------- NAT pools
def derived_rule_pattern(nat_pool: str) -> re.Pattern[str]:
    """Rules Azure derives from a NAT pool for scale-set instances are named ``{pool}.{instanceId}``."""
    return re.compile(rf"^{re.escape(nat_pool)}\.\d+$", re.IGNORECASE)


def derived_rules(lb: Raw, nat_pool: str) -> list[Raw]:
    """The per-instance rules Azure derived from ``nat_pool`` (each names the instance's ipConfiguration)."""
    pattern = derived_rule_pattern(nat_pool)
    out = []
    for rule in children(lb, "inboundNatRules"):
        backend = ref(props(rule).get("backendIPConfiguration")) or ""
        if pattern.match(str(rule.get("name", ""))) and "/virtualmachinescalesets/" in backend.lower():
            out.append(rule)
    return out


def scale_set_of_ip_configuration(ip_configuration_id: str) -> str | None:
    """``…/virtualMachineScaleSets/{vmss}/virtualMachines/{i}/networkInterfaces/…`` → the scale set id."""
    m = re.match(r"^(.*/virtualMachineScaleSets/[^/]+)/virtualMachines/", ip_configuration_id, re.IGNORECASE)
    return m.group(1) if m else None


def instance_of_ip_configuration(ip_configuration_id: str) -> str | None:
    m = re.search(r"/virtualMachines/([^/]+)/", ip_configuration_id, re.IGNORECASE)
    return m.group(1) if m else None


def is_v2_rule(rule: Raw) -> bool:
    p = props(rule)
    return bool(p.get("backendAddressPool")) or p.get("frontendPortRangeStart") is not None


# ---------------------------------------------------------------------------------------------------- scale sets
def upgrade_mode(vmss: Raw) -> str:
    return str((props(vmss).get("upgradePolicy") or {}).get("mode") or "Manual")


def network_profile(vmss: Raw) -> Raw:
    return (props(vmss).get("virtualMachineProfile") or {}).get("networkProfile") or {}


def model_ip_configurations(vmss: Raw) -> Iterator[Raw]:
    """Every ipConfiguration of every NIC configuration in the scale-set model."""
    for nic in network_profile(vmss).get("networkInterfaceConfigurations") or []:
        yield from props(nic).get("ipConfigurations") or []


def model_refs(vmss: Raw, key: str) -> list[str]:
    """Ids the model's ipConfigurations reference under ``key`` (``loadBalancerInboundNatPools`` …)."""
    out: list[str] = []
    for ipc in model_ip_configurations(vmss):
        out += ref_ids(props(ipc).get(key))
    return out


def model_references(vmss: Raw, key: str, target_id: str) -> bool:
    return any(same_id(r, target_id) for r in model_refs(vmss, key))


def health_probe(vmss: Raw) -> str | None:
    return ref(network_profile(vmss).get("healthProbe"))


def capacity(vmss: Raw) -> int:
    return int(((vmss or {}).get("sku") or {}).get("capacity") or 0)


def pending_instances(instances: list[Raw]) -> list[str]:
    """Instance ids not yet on the scale set's latest model (``latestModelApplied`` false)."""
    out = []
    for inst in instances:
        if props(inst).get("latestModelApplied", True) is False:
            out.append(str(inst.get("instanceId") or name_of(str(inst.get("id", "")))))
    return sorted(out, key=_instance_sort_key)


def _instance_sort_key(instance_id: str) -> tuple[int, str]:
    return (int(instance_id), "") if instance_id.isdigit() else (1 << 30, instance_id)


def sort_instance_ids(ids: list[str]) -> list[str]:
    return sorted(ids, key=_instance_sort_key)


# ---------------------------------------------------------------------------------------------------- edits (copies)
def edit_model_refs(vmss: Raw, key: str, *, remove: str | None = None, add: str | None = None,
                    add_where: str | None = None) -> Raw:
    """A copy of ``vmss`` whose ipConfigurations drop ``remove`` from ``key`` and/or gain ``add``.

    ``add`` goes to the ipConfigurations that referenced ``add_where`` (under ``loadBalancerInboundNatPools``) or,
    when none did, to the primary ipConfiguration of the primary NIC configuration.
    """
    body = copy.deepcopy(vmss)
    ipcs = list(model_ip_configurations(body))
    targets = []
    if add is not None and add_where is not None:
        targets = [ipc for ipc in ipcs if any(same_id(r, add_where)
                                              for r in ref_ids(props(ipc).get("loadBalancerInboundNatPools")))]
    if add is not None and not targets:
        targets = [ipc for ipc in ipcs if props(ipc).get("primary")] or ipcs[:1]
    for ipc in ipcs:
        p = ipc.setdefault("properties", {})
        refs = list(p.get(key) or [])
        if remove is not None:
            refs = [r for r in refs if not same_id(ref(r), remove)]
        if add is not None and ipc in targets and not any(same_id(ref(r), add) for r in refs):
            refs.append({"id": add})
        if key in p or refs:
            p[key] = refs
    return body


def with_health_probe(vmss: Raw, probe_id: str | None) -> Raw:
    body = copy.deepcopy(vmss)
    profile = body.setdefault("properties", {}).setdefault("virtualMachineProfile", {})
    net = profile.setdefault("networkProfile", {})
    if probe_id is None:
        net.pop("healthProbe", None)  # a PUT replaces the model: no healthProbe means none
    else:
        net["healthProbe"] = {"id": probe_id}
    return body


def without_child(lb: Raw, collection: str, name: str) -> Raw:
    body = copy.deepcopy(lb)
    p = body.setdefault("properties", {})
    p[collection] = [c for c in p.get(collection) or [] if str(c.get("name", "")).lower() != name.lower()]
    return body


def with_child(lb: Raw, collection: str, item: Raw) -> Raw:
    """A copy with ``item`` added to (or replacing the same-named child of) ``collection``."""
    body = without_child(lb, collection, str(item["name"]))
    body["properties"].setdefault(collection, []).append(copy.deepcopy(item))
    return body


def with_tag(body: Raw, key: str, value: str | None) -> Raw:
    out = copy.deepcopy(body)
    t = dict(out.get("tags") or {})
    if value is None:
        t.pop(key, None)
    else:
        t[key] = value
    out["tags"] = t
    return out


def references_to(lb: Raw, target_id: str) -> list[str]:
    """Names (``collection/name``) of the load balancer's children that reference ``target_id``."""
    out = []
    for collection in LB_COLLECTIONS:
        for item in children(lb, collection):
            for key, value in props(item).items():
                if key in ("inboundNatPools", "inboundNatRules", "loadBalancingRules", "outboundRules",
                           "backendIPConfigurations", "loadBalancerBackendAddresses"):
                    continue  # back-references Azure computes, not references this child makes
                single = isinstance(value, dict) and same_id(value.get("id"), target_id)
                listed = isinstance(value, list) and any(
                    isinstance(v, dict) and same_id(v.get("id"), target_id) for v in value
                )
                if single or listed:
                    out.append(f"{collection}/{item.get('name')}")
    return out


def short_ref(resource_id: str, relative_to: str) -> str:
    """A resource's name when it lives in ``relative_to``'s resource group, else its full id (compact intents)."""
    rid, base = ResourceId.parse(resource_id), ResourceId.parse(relative_to)
    if rid.subscription.lower() == base.subscription.lower() and (rid.resource_group or "").lower() == (
        base.resource_group or ""
    ).lower():
        return rid.name
    return str(rid)


def expand_ref(value: str, relative_to: str, provider_type: str) -> str:
    """Inverse of :func:`short_ref`: a bare name becomes an id in ``relative_to``'s resource group."""
    if value.startswith("/"):
        return value
    base = ResourceId.parse(relative_to)
    return f"/subscriptions/{base.subscription}/resourceGroups/{base.resource_group}/providers/{provider_type}/{value}"


def key(resource_id: str) -> str:
    return id_key(resource_id)
