"""Reading the snapshot: the slice of Azure a reconciliation needs, as raw ARM JSON.

Events are hints, never the truth: whatever triggered a run, the planner sees Azure as it is now. A run for one
event reads only the event's resource group (plus the bindings' load balancers); a sweep reads every scope.
"""

from __future__ import annotations

from typing import Any

from poolkeeper.config import Config
from poolkeeper.gateway import ArmGateway
from poolkeeper.ids import ResourceId, id_key, in_scope
from poolkeeper.model import Snapshot


def narrowest_scopes(scopes: list[ResourceId]) -> list[ResourceId]:
    """Drop scopes contained in another (a resource group inside a listed subscription is read once)."""
    out: list[ResourceId] = []
    for s in sorted(scopes, key=lambda r: len(str(r))):
        if not any(in_scope(s, [o]) for o in out):
            out.append(s)
    return out


def scopes_for_run(config: Config, subscription_id: str, resource_group: str | None = None) -> list[ResourceId]:
    """The scopes to read for a run in one subscription: all configured ones, or just one resource group."""
    configured = [ResourceId.parse(s) for s in config.scopes]
    mine = [s for s in configured if s.subscription.lower() == subscription_id.lower()]
    if resource_group is not None:
        rg = ResourceId.parse(f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}")
        return [rg] if in_scope(rg, mine) else []
    return narrowest_scopes(mine)


NETWORK_PARTS = frozenset({"nsgs", "public_ips", "virtual_networks"})


def read_snapshot(gateway: ArmGateway, config: Config, scopes: list[ResourceId],
                  parts: frozenset[str] = frozenset()) -> Snapshot:
    """The snapshot of ``scopes``; ``parts`` adds network parts guardrails need (``NETWORK_PARTS``), each read with
    one paged LIST per scope, never a GET per resource."""
    vms: list[dict[str, Any]] = []
    nics: list[dict[str, Any]] = []
    lbs: dict[str, dict[str, Any]] = {}
    scale_sets: list[dict[str, Any]] = []
    instances: dict[str, list[dict[str, Any]]] = {}
    for scope in scopes:
        vms += gateway.list_vms(scope)
        nics += gateway.list_nics(scope)
        for lb in gateway.list_load_balancers(scope):
            lbs[id_key(lb["id"])] = lb
        for vmss in gateway.list_scale_sets(scope):
            scale_sets.append(vmss)
            mode = str((vmss.get("properties") or {}).get("orchestrationMode") or "Uniform")
            if mode.lower() == "uniform":
                instances[vmss["id"]] = gateway.list_scale_set_instances(vmss["id"])
    sub = scopes[0].subscription.lower() if scopes else ""
    for binding in config.bindings:
        key = id_key(binding.load_balancer)
        if key in lbs or ResourceId.parse(binding.load_balancer).subscription.lower() != sub:
            continue
        if in_scope(binding.load_balancer, config.scopes):
            found = gateway.get_load_balancer(binding.load_balancer)
            if found is not None:
                lbs[key] = found
    extra: dict[str, list[dict[str, Any]]] = {}
    listers = {"nsgs": gateway.list_nsgs, "public_ips": gateway.list_public_ips,
               "virtual_networks": gateway.list_virtual_networks}
    for part in sorted(parts & NETWORK_PARTS):
        extra[part] = _dedupe([item for scope in scopes for item in listers[part](scope)])
    return Snapshot.from_arm(
        vms=_dedupe(vms), nics=_dedupe(nics), load_balancers=lbs.values(), scale_sets=_dedupe(scale_sets),
        scale_set_instances=instances, nsgs=extra.get("nsgs"), public_ips=extra.get("public_ips"),
        virtual_networks=extra.get("virtual_networks"),
    )


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for item in items:
        seen.setdefault(id_key(item["id"]), item)
    return list(seen.values())
