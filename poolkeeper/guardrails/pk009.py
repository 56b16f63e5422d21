"""PK009: inbound NAT pools present.

Source: Microsoft Learn, "Migrate from inbound NAT pools to NAT rules" (load-balancer-nat-pool-migration): inbound
NAT pools retire on 30 September 2027, and no new NAT pools can be created since 15 November 2026; single-VM inbound
NAT rules V1 are not affected by that retirement. Seed 001 describes the NAT pools. poolkeeper never creates a NAT
pool, so there is nothing to screen; the repair is the ``natpool migrate`` workflow, not an automatic fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail

ID = "PK009"
FIX = ("migrate to an inbound NAT rule V2: python -m poolkeeper natpool migrate (see docs/natpool-retirement.md); "
       "NAT pools retire on 2027-09-30")


@guardrail(id=ID, title="Inbound NAT pool present (retires 30 September 2027)", severity="high", fix_hint=FIX,
           source="Microsoft Learn load-balancer-nat-pool-migration; 001")
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    for lb in view.snapshot.load_balancers.values():
        for pool in lb.inbound_nat_pools:
            users = sorted(ss.name for ss in view.snapshot.scale_sets.values()
                           if any(p.lower() == pool.id.lower() for nc in ss.nic_configurations
                                  for ic in nc.ip_configurations for p in ic.nat_pool_ids))
            yield found(ID, pool.id, f"load balancer {lb.name} has inbound NAT pool {pool.name} "
                                     f"({pool.frontend_port_range_start}-{pool.frontend_port_range_end} -> "
                                     f"{pool.backend_port}); NAT pools retire on 2027-09-30 and none can be created "
                                     "since 2026-11-15", fix=FIX, evidence={"scaleSets": users})
