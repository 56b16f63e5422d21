"""NAT rule V2 port mappings: which frontend port each pool member got (``queryInboundNatRulePortMapping``)."""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError
from armsim.network.common import (
    ip_configurations,
    ref_id,
    ref_ids,
    same,
)
from armsim.provider import Ctx
from armsim.store import Record

if TYPE_CHECKING:
    pass
from armsim.network.lb_common import (
    META_V2_PORTS,
)


def _natural(key: str) -> list[Any]:
    """Sort key that orders ``.../virtualMachines/2/...`` before ``.../virtualMachines/10/...`` (instance order)."""
    out: list[Any] = []
    for part in re.split(r"(\d+)", key):
        out.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return out


def _pool_members(ctx: Ctx, pool: dict[str, Any]) -> dict[str, str]:
    """member key -> private IP address ("" if unknown) of every member of a backend pool.

    A NIC-based member is keyed by its ip configuration id (lower-cased, as ``ids.key``); an IP-based member
    (``loadBalancerBackendAddresses[].properties.ipAddress``) by ``ip:<address>``. Azure refuses pools mixing both.
    """
    out: dict[str, str] = {}
    # a scale-set instance references the pool twice (its NIC record and its applied model, which has no address):
    # ipconfigs_referencing keeps one of the two, so read the address from the NIC record itself
    for rec in ctx.store.referrers(pool["id"]):
        for ipc_id, ipc, _nic in ip_configurations(rec):
            if any(same(p, pool["id"]) for p in ref_ids(ipc.get("loadBalancerBackendAddressPools"))):
                key = ids.key(ipc_id)
                out[key] = out.get(key) or str(ipc.get("privateIPAddress") or "")
    for address in pool.get("properties", {}).get("loadBalancerBackendAddresses") or []:
        ip = str((address.get("properties") or {}).get("ipAddress") or "")
        if ip:
            out[f"ip:{ip}"] = ip
    return out


def _query_member(ctx: Ctx, pool: dict[str, Any], body: Any) -> str:
    """The member key a QueryInboundNatRulePortMappingRequest names; a 400 if it names none or a non-member."""
    ipc_id = ref_id(body.get("ipConfiguration")) if isinstance(body, dict) else None
    ip = body.get("ipAddress") if isinstance(body, dict) else None
    if not ipc_id and not ip:
        raise ArmError(
            400,
            "InvalidRequestFormat",
            "The request body must name the backend address: {\"ipConfiguration\": {\"id\": \"<NIC ip "
            "configuration id>\"}} or {\"ipAddress\": \"<address>\"}.",
        )
    members = _pool_members(ctx, pool)
    if ipc_id and ids.key(ipc_id) in members:
        return ids.key(ipc_id)
    if not ipc_id and ip:
        if f"ip:{ip}" in members:
            return f"ip:{ip}"
        by_ip = sorted(k for k, v in members.items() if v == ip)
        if by_ip:
            return by_ip[0]
    raise ArmError(
        400,
        "BackendAddressNotFoundInBackendAddressPool",
        f"The backend address {ipc_id or ip} is not a member of backend address pool {pool['id']}. Query a NIC ip "
        f"configuration or IP address that is in the pool (see its backendIPConfigurations or "
        f"loadBalancerBackendAddresses).",
    )


def _assign_v2_ports(ctx: Ctx, rec: Record, pool: dict[str, Any]) -> dict[str, dict[str, int]]:
    """NAT rule V2 name (lower) -> {member key: frontend port} for the rules on ``pool``, updating the record's meta.

    Azure hands each pool member its own frontend port from a V2 rule's range and does not renumber the others when
    membership changes. armsim's rule: a member keeps its port for as long as it stays in the pool (and the rule keeps
    its pool and range); a member that left frees its port; new members take the lowest free ports of the range in
    order of ip configuration id (instance order for a scale set). Members beyond the range get no port. The
    assignments live in ``record.meta`` (simulator bookkeeping, not the body), so they survive LB writes but no
    client sees them except through this query. They are brought up to date when queried.
    """
    props = rec.body.get("properties", {})
    members = sorted(_pool_members(ctx, pool), key=_natural)
    store: dict[str, Any] = copy.deepcopy(rec.meta.get(META_V2_PORTS) or {})
    v2_rules = {
        r["name"].lower(): r for r in props.get("inboundNatRules") or []
        if ref_id(r["properties"].get("backendAddressPool")) is not None
    }
    store = {k: v for k, v in store.items() if k in v2_rules}  # deleted rules release everything
    out: dict[str, dict[str, int]] = {}
    for key, rule in v2_rules.items():
        rp = rule["properties"]
        if not same(ref_id(rp.get("backendAddressPool")), pool["id"]):
            continue
        lo, hi = int(rp["frontendPortRangeStart"]), int(rp["frontendPortRangeEnd"])
        entry = store.get(key) or {}
        if entry.get("pool") != ids.key(pool["id"]) or entry.get("range") != [lo, hi]:
            entry = {}  # a rule re-pointed or re-ranged starts over, as a new rule would
        ports = {m: p for m, p in (entry.get("ports") or {}).items() if m in members and lo <= p <= hi}
        used = set(ports.values())
        free = (p for p in range(lo, hi + 1) if p not in used)
        for member in members:
            if member not in ports:
                port = next(free, None)
                if port is None:
                    break
                ports[member] = port
        store[key] = {"pool": ids.key(pool["id"]), "range": [lo, hi], "ports": ports}
        out[key] = dict(ports)
    rec.meta[META_V2_PORTS] = store
    return out


# The first Microsoft.Network api-version whose LoadBalancerBackendAddressPropertiesFormat has the read-only
# ``inboundNatRulesPortMapping`` (an array of NatRulePortMapping: inboundNatRuleName, frontendPort, backendPort — no
# protocol, unlike the query's InboundNatRulePortMapping): present in stable/2021-03-01/loadBalancer.json, absent from
# stable/2021-02-01 (Azure/azure-rest-api-specs, specification/network/resource-manager/Microsoft.Network). A public
# ``az network lb list`` transcript shows Azure filling it on a pool member: {"backendPort": 8080, "frontendPort":
# 8080, "inboundNatRuleName": "plb-inbound-nat-rule1"}. Older api-versions do not show it.
PORT_MAPPING_SINCE = "2021-03-01"


def shows_port_mappings(api_version: str) -> bool:
    """Whether a backend pool answered at ``api_version`` lists each member's NAT rule V2 ports."""
    return bool(api_version) and api_version[:10] >= PORT_MAPPING_SINCE


def member_port_mappings(ctx: Ctx, rec: Record, pool: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """member key (as ``_pool_members``) -> its NatRulePortMapping entries, one per NAT rule V2 on ``pool``.

    The ports are the ones ``queryInboundNatRulePortMapping`` answers (the same ``_assign_v2_ports``), so one GET of
    the pool tells what one query per member would.
    """
    ports = _assign_v2_ports(ctx, rec, pool)
    out: dict[str, list[dict[str, Any]]] = {}
    for rule in rec.body.get("properties", {}).get("inboundNatRules") or []:
        for member, port in sorted(ports.get(rule["name"].lower(), {}).items()):
            out.setdefault(member, []).append(
                {"inboundNatRuleName": rule["name"], "frontendPort": port,
                 "backendPort": rule["properties"].get("backendPort")}
            )
    return out


def add_port_mappings(ctx: Ctx, rec: Record, pool: dict[str, Any]) -> None:
    """Fill ``inboundNatRulesPortMapping`` on the rendered pool's ``loadBalancerBackendAddresses`` (members with a
    port on a NAT rule V2 over the pool; members without one carry no such property)."""
    if not any(
        same(ref_id(r["properties"].get("backendAddressPool")), pool["id"])
        for r in rec.body.get("properties", {}).get("inboundNatRules") or []
    ):
        return
    mappings = member_port_mappings(ctx, rec, pool)
    for address in pool.get("properties", {}).get("loadBalancerBackendAddresses") or []:
        ap = address.setdefault("properties", {})
        ipc = ref_id(ap.get("networkInterfaceIPConfiguration"))
        key = ids.key(ipc) if ipc else (f"ip:{ap['ipAddress']}" if ap.get("ipAddress") else None)
        if key is not None and key in mappings:
            ap["inboundNatRulesPortMapping"] = mappings[key]
