"""NAT rule V2 ports from the backend pool itself: one read for every member instead of one POST each.

Why: after a migration poolkeeper reports each instance's new port. ``queryInboundNatRulePortMapping`` answers for one
member per call, and ARM counts that POST against the write throttle (100 instances: 100 write-class requests). A
load balancer GET carries the same figures for every member in
``backendAddressPools[].properties.loadBalancerBackendAddresses[].properties.inboundNatRulesPortMapping``
(read-only ``NatRulePortMapping`` {inboundNatRuleName, frontendPort, backendPort} of
``LoadBalancerBackendAddressPropertiesFormat``,
specification/network/resource-manager/Microsoft.Network/stable/2024-07-01/loadBalancer.json; the same field in
azure-mgmt-network's ``LoadBalancerBackendAddressPropertiesFormat.inbound_nat_rules_port_mapping``). The member is
named by ``networkInterfaceIPConfiguration.id``. UNCONFIRMED: whether Azure fills the field for a NIC-based pool of a
Uniform scale set; where a member is missing, the caller falls back to the POST for that member.
"""

from __future__ import annotations

from typing import Any

from poolkeeper.ids import id_key


def ports_from_pool(lb: dict[str, Any], pool_name: str, rule_name: str) -> dict[str, dict[str, Any]]:
    """ipConfiguration id (lower-cased) → that member's mapping on ``rule_name``, as the pool's GET reports it."""
    out: dict[str, dict[str, Any]] = {}
    rules = (lb.get("properties") or {}).get("inboundNatRules") or []
    rule = next((r for r in rules if str(r.get("name", "")).lower() == rule_name.lower()), None)
    protocol = ((rule or {}).get("properties") or {}).get("protocol")  # the pool's mapping does not repeat it
    pools = (lb.get("properties") or {}).get("backendAddressPools") or []
    pool = next((p for p in pools if str(p.get("name", "")).lower() == pool_name.lower()), None)
    for address in ((pool or {}).get("properties") or {}).get("loadBalancerBackendAddresses") or []:
        props = address.get("properties") or {}
        ipc = (props.get("networkInterfaceIPConfiguration") or {}).get("id")
        if not ipc:
            continue
        for mapping in props.get("inboundNatRulesPortMapping") or []:
            if str(mapping.get("inboundNatRuleName", "")).lower() == rule_name.lower():
                out[id_key(ipc)] = {"inboundNatRuleName": mapping.get("inboundNatRuleName"),
                                    "frontendPort": mapping.get("frontendPort"),
                                    "backendPort": mapping.get("backendPort"),
                                    "protocol": mapping.get("protocol") or protocol}
    return out
