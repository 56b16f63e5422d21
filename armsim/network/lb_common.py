"""What the load-balancer modules share: the type, child collections, read-only keys and small helpers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError
from armsim.network.common import (
    NET,
    ref_id,
    ref_ids,
)
from armsim.store import Record

if TYPE_CHECKING:
    from armsim.store import Store

LB_TYPE = f"{NET}/loadBalancers"
META_DERIVED = "natpool_rules"  # record.meta key: derived rule name (lower) -> {name, pool, instance, ipconfig}
# record.meta key: NAT rule V2 name (lower) -> {"pool": pool id key, "range": [start, end], "ports": {member: port}}
META_V2_PORTS = "natrule_v2_ports"
QUERY_PORT_MAPPING = "queryInboundNatRulePortMapping"

# collection -> read-only properties clients echo back (back-references and server-set fields)
_READONLY: dict[str, frozenset[str]] = {
    "frontendIPConfigurations": frozenset(
        {"loadBalancingRules", "inboundNatRules", "inboundNatPools", "outboundRules", "etag", "type"}
    ),
    "backendAddressPools": frozenset(
        {
            "backendIPConfigurations",
            "loadBalancingRules",
            "inboundNatRules",
            "outboundRules",
            "outboundRule",
            "etag",
            "type",
        }
    ),
    "loadBalancingRules": frozenset({"etag", "type"}),
    "probes": frozenset({"loadBalancingRules", "etag", "type"}),
    "inboundNatRules": frozenset({"backendIPConfiguration", "etag", "type"}),
    "inboundNatPools": frozenset({"etag", "type"}),
    "outboundRules": frozenset({"etag", "type"}),
}
COLLECTIONS = tuple(_READONLY)
_PROTOCOLS = ("Tcp", "Udp", "All")

# collection -> its children's references to siblings in the same body: (property, target collection, is a list).
# One table for the two walks over them: a PUT's reference check (lb_checks.check_references) and the
# back-references shown on frontends, pools and probes (LoadBalancerProvider.render).
SIBLING_REFERENCES: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "loadBalancingRules": (
        ("frontendIPConfiguration", "frontendIPConfigurations", False),
        ("backendAddressPool", "backendAddressPools", False),
        ("backendAddressPools", "backendAddressPools", True),
        ("probe", "probes", False),
    ),
    "inboundNatRules": (
        ("frontendIPConfiguration", "frontendIPConfigurations", False),
        ("backendAddressPool", "backendAddressPools", False),
    ),
    "inboundNatPools": (("frontendIPConfiguration", "frontendIPConfigurations", False),),
    "outboundRules": (
        ("frontendIPConfigurations", "frontendIPConfigurations", True),
        ("backendAddressPool", "backendAddressPools", False),
    ),
}


def sibling_references(props: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], list[tuple[str, str]]]]:
    """(collection, child, [(target collection, target id)]) for each rule, NAT rule, NAT pool and outbound rule of a
    load balancer's ``properties``, in :data:`SIBLING_REFERENCES` order, then body order."""
    for coll, refs in SIBLING_REFERENCES.items():
        for child in props[coll]:
            cp = child["properties"]
            targets = [(target_coll, target) for key, target_coll, many in refs
                       for target in (ref_ids(cp.get(key)) if many else [ref_id(cp.get(key))]) if target]
            yield coll, child, targets


def _child_type(collection: str) -> str:
    return f"{LB_TYPE}/{collection}"


def _derived(rec_meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(rec_meta.get(META_DERIVED) or {})


def _names(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"].lower(): c for c in items}


def _overlap(a: str, b: str) -> bool:
    return a == b or "All" in (a, b)


def _check_range(owner: str, lo: int, hi: int) -> None:
    if lo > hi:
        raise ArmError(
            400,
            "InvalidRequestFormat",
            f"{owner}: frontendPortRangeStart ({lo}) must not be greater than frontendPortRangeEnd ({hi}).",
        )


def _signature(rule: dict[str, Any]) -> dict[str, Any]:
    p = {
        k: v for k, v in rule.get("properties", {}).items() if k not in ("provisioningState", "backendIPConfiguration")
    }
    for k, v in list(p.items()):
        if isinstance(v, dict) and "id" in v:
            p[k] = ids.key(v["id"])
    return p


def _kind(owner: str) -> str:
    return "Inbound NAT pool" if "/inboundNatPools/" in owner else "Inbound NAT rule"


def _range(claim: tuple[str, str, int, int, str, str | None]) -> str:
    return str(claim[2]) if claim[2] == claim[3] else f"{claim[2]}-{claim[3]}"


def _pool_id(props: dict[str, Any], key: str) -> str:
    for p in props["backendAddressPools"]:
        if ids.key(p["id"]) == key:
            return p["id"]
    return key


def mixed_pool(pool_id: str) -> ArmError:
    return ArmError(
        400,
        "CannotMixIPBasedAddressesAndIPConfigurationsOnLoadBalancerBackendAddressPool",
        f"Backend address pool {pool_id} cannot have both IP-based backend addresses and NIC ip configurations.",
    )


def find_lb_child(store: Store, child: str) -> tuple[Record, str, dict[str, Any]] | None:
    """(LB record, collection, child body) for a child id such as ``.../loadBalancers/lb/backendAddressPools/p``."""
    parts = child.rstrip("/").split("/")
    if len(parts) < 4:
        return None
    coll = next((c for c in COLLECTIONS if c.lower() == parts[-2].lower()), None)
    rec = store.get(ids.parent_id(child))
    if coll is None or rec is None or rec.type.lower() != LB_TYPE.lower():
        return None
    for c in rec.body.get("properties", {}).get(coll) or []:
        if str(c.get("name", "")).lower() == parts[-1].lower():
            return rec, coll, c
    return None


def _require_frontend(props: dict[str, Any], what: str, child_id: str) -> None:
    """Rules and NAT pools must name the frontend they listen on."""
    if ref_id(props.get("frontendIPConfiguration")) is None:
        raise ArmError(400, "InvalidRequestFormat", f"{what} {child_id} needs a frontendIPConfiguration.")
