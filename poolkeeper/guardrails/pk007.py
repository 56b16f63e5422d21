"""PK007: more than one scale set behind one load balancer.

Source: seed 001, "Multiple virtual machine scale sets can't use the same load balancer ... Only one virtual
machine scale set can be associated with a load balancer." Azure enforces this for Basic load balancers only (a
Basic pool is one availability set, and a scale set is one); a Standard load balancer accepts several, hence the
``allow`` parameter for estates that mean it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail
from poolkeeper.ids import parent_key

ID = "PK007"
FIX = "give each scale set its own load balancer (or set guardrails.PK007.allow to true if this is intended)"


@guardrail(id=ID, title="More than one scale set behind one load balancer", severity="medium", fix_hint=FIX,
           source="001: \"Only one virtual machine scale set can be associated with a load balancer\"",
           params_schema={"properties": {"allow": {"type": "boolean", "default": False}}})
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    if params["allow"]:
        return
    users: dict[str, set[str]] = {}
    for ss in view.snapshot.scale_sets.values():
        for nc in ss.nic_configurations:
            for ic in nc.ip_configurations:
                for ref in (*ic.backend_pool_ids, *ic.nat_pool_ids):
                    users.setdefault(parent_key(ref), set()).add(ss.name)
    for lb in view.snapshot.load_balancers.values():
        names = sorted(users.get(lb.key, set()))
        if len(names) > 1:
            yield found(ID, lb.id, f"load balancer {lb.name} serves {len(names)} scale sets ({', '.join(names)}); "
                                   "seed 001: only one scale set per load balancer", fix=FIX,
                        evidence={"scaleSets": names, "sku": lb.sku})
