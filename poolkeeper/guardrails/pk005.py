"""PK005: an NSG on a backend NIC or its subnet blocks the load balancer's health probe on the probed port.

Source: seed 000, "The probe is sent from a known IP address, Make sure you don't block traffic to or from this IP
in any firewall policies or network security group (NSG) rules." The address is 168.63.129.16, service tag
``AzureLoadBalancer`` (Microsoft Learn, "Azure Load Balancer health probes"). Effective rules are evaluated by
priority at the subnet NSG and then the NIC NSG (``nsg_eval``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.netpath import probe_allowed
from poolkeeper.guardrails.registry import View, found, guardrail

ID = "PK005"
FIX = ("allow inbound from service tag AzureLoadBalancer to the probed port above the denying rule (the default "
       "rule AllowAzureLoadBalancerInBound at 65001 does it unless a lower-numbered rule denies first)")


@guardrail(id=ID, title="NSG blocks the load balancer's health probe", severity="high", fix_hint=FIX,
           source="000: \"Make sure you don't block traffic to or from this IP in any ... NSG rules\"",
           needs=("nsgs", "virtual_networks"))
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    snap = view.snapshot
    seen: set[tuple[str, int]] = set()
    for lb in snap.load_balancers.values():
        probes = {p.id.lower(): p for p in lb.probes}
        for rule in lb.load_balancing_rules:
            probe = probes.get((rule.probe_id or "").lower())
            if probe is None or probe.port is None:
                continue
            for pool_id in rule.backend_address_pool_ids:
                for nic, ic in snap.pool_members(pool_id):
                    if (ic.id.lower(), probe.port) in seen:
                        continue
                    seen.add((ic.id.lower(), probe.port))
                    allowed, why = probe_allowed(snap, nic, ic, probe.port)
                    if not allowed:
                        yield found(ID, nic.id, f"the health probe {probe.name} of {lb.name} (from "
                                                f"168.63.129.16, port {probe.port}) is denied for NIC {nic.name} "
                                                f"by {why}: the load balancer marks it down", fix=FIX,
                                    evidence={"probe": probe.id, "port": probe.port, "decidedBy": why})
