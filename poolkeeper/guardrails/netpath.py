"""Shared facts for the network guardrails: which pools are managed, which NSGs a NIC's traffic meets, and whether
traffic from the Internet or the load balancer's probe reaches a backend. Pure functions over the snapshot."""

from __future__ import annotations

from typing import Any

from poolkeeper.config import Config
from poolkeeper.guardrails.nsg_eval import Traffic, evaluate_path
from poolkeeper.ids import id_key
from poolkeeper.model import IpConfiguration, LoadBalancer, NetworkSecurityGroup, Nic, Snapshot


def short(resource_id: str | None) -> str:
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]


def managed_pool_keys(config: Config) -> set[str]:
    """Backend pools some binding manages (lower-cased ids)."""
    return {id_key(b.pool_id) for b in config.bindings}


def nsgs_on_path(snapshot: Snapshot, nic: Nic, ic: IpConfiguration) -> list[NetworkSecurityGroup | None]:
    """Inbound order: the subnet's NSG, then the NIC's (None where a level has none)."""
    subnet = snapshot.subnet(ic.subnet_id)
    return [snapshot.nsg(subnet.network_security_group_id if subnet else None),
            snapshot.nsg(nic.network_security_group_id)]


def internet_reachable(snapshot: Snapshot, lb: LoadBalancer | None, nic: Nic, ic: IpConfiguration, port: int,
                       protocol: str = "Tcp") -> tuple[bool, dict[str, Any]]:
    """Whether any Internet address can reach ``port`` on this ip configuration through its NSGs.

    With no NSG at all, a Standard load balancer still keeps inbound closed ("secure by default": Microsoft Learn,
    "Azure Load Balancer SKUs" / "Standard Load Balancer ... closed to inbound flows unless allowed by a network
    security group"); a Basic one does not.
    """
    nsgs = nsgs_on_path(snapshot, nic, ic)
    proto = "Tcp" if protocol.lower() in ("tcp", "all", "*") else protocol
    evidence: dict[str, Any] = {"port": port, "subnetNsg": nsgs[0].id if nsgs[0] else None,
                                "nicNsg": nsgs[1].id if nsgs[1] else None}
    if all(n is None for n in nsgs):
        open_ = lb is None or lb.is_basic
        evidence["decidedBy"] = ("no NSG on the NIC or its subnet" + ("" if open_ else
                                 "; a Standard load balancer is closed to inbound flows unless an NSG allows them"))
        return open_, evidence
    allowed, decisions = evaluate_path(nsgs, Traffic.internet(port, proto, ic.private_ip_address))
    evidence["decidedBy"] = "; ".join(d.explain() for d in decisions)
    return allowed, evidence


def probe_allowed(snapshot: Snapshot, nic: Nic, ic: IpConfiguration, port: int) -> tuple[bool, str]:
    allowed, decisions = evaluate_path(nsgs_on_path(snapshot, nic, ic), Traffic.probe(port, ic.private_ip_address))
    return allowed, "; ".join(d.explain() for d in decisions)
