"""PK002: members of one backend pool span several virtual networks or subnets.

Source: seed 000, "Network recommendations": "Place the VMs within the same subnet." (Azure itself refuses a pool
spanning virtual networks — NetworkInterfacesInBackendAddressPoolMustBeInSameVnet — but not one spanning subnets.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.netpath import short
from poolkeeper.guardrails.registry import View, found, guardrail
from poolkeeper.ids import id_key, vnet_of_subnet

ID = "PK002"
FIX = "place every member of the pool in one subnet (recreate the NICs of the odd ones out in the pool's subnet)"


@guardrail(id=ID, title="Backend pool members span several virtual networks or subnets",
           source="000: \"Place the VMs within the same subnet\"", severity="medium", fix_hint=FIX)
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    for lb in view.snapshot.load_balancers.values():
        for pool in lb.backend_pools:
            subnets: dict[str, str] = {}
            for _nic, ic in view.snapshot.pool_members(pool.id):
                if ic.subnet_id:
                    subnets.setdefault(id_key(ic.subnet_id), ic.subnet_id)
            for ss in view.snapshot.scale_sets_using_pool(pool.id):
                for nc in ss.nic_configurations:
                    for sic in nc.ip_configurations:
                        if sic.subnet_id and sic.in_pool(pool.id):
                            subnets.setdefault(id_key(sic.subnet_id), sic.subnet_id)
            if len(subnets) < 2:
                continue
            vnets = sorted({vnet_of_subnet(s) or "" for s in subnets.values()})
            what = "virtual networks" if len(vnets) > 1 else "subnets"
            yield found(ID, pool.id, f"backend pool {pool.name} of {lb.name} spans {len(subnets)} {what}: "
                                     f"{', '.join(sorted(short(s) for s in subnets.values()))}",
                        fix=FIX, evidence={"subnets": sorted(subnets.values()), "virtualNetworks": vnets})
