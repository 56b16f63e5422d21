"""PK008: an outbound rule on a backend pool whose load-balancing rules keep implicit SNAT.

Source: seed 001, "Outbound rules: To create outbound rule for a backend pool that is already referenced by a load
balancing rule, you need to first mark "Create implicit outbound rules" as No" — ``disableOutboundSnat: true`` on
the rule. Azure refuses the combination only when both use the same frontend
(LoadBalancingRuleMustDisableSNATSinceSameFrontendIPConfigurationIsReferencedByOutboundRule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail
from poolkeeper.ids import same_id

ID = "PK008"
FIX = "set disableOutboundSnat to true on the load-balancing rule (az network lb rule update --disable-outbound-snat)"


@guardrail(id=ID, title="Outbound rule on a pool whose rules keep implicit SNAT", severity="medium", fix_hint=FIX,
           source="001: \"mark 'Create implicit outbound rules' as No\"")
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    for lb in view.snapshot.load_balancers.values():
        for out in lb.outbound_rules:
            if not out.backend_address_pool_id:
                continue
            for rule in lb.load_balancing_rules:
                if rule.disable_outbound_snat:
                    continue
                if any(same_id(p, out.backend_address_pool_id) for p in rule.backend_address_pool_ids):
                    yield found(ID, rule.id, f"rule {rule.name} of {lb.name} keeps implicit SNAT for the pool that "
                                             f"outbound rule {out.name} serves", fix=FIX,
                                evidence={"outboundRule": out.id, "pool": out.backend_address_pool_id})
