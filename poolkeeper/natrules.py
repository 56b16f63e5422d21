"""What Azure accepts for inbound NAT rules, decided in one place for the reconcile path and the workflows.

Pure: given facts about a load balancer, say whether Azure would refuse, with the code and a message that says what
to do. The planner (``binding natRule.mode = v2``) and ``natpool migrate`` (``workflows/migrate_natpool.py``) both call
these, so the two paths can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

# Learn, "Migrate from Inbound NAT rules version 1 to version 2" (load-balancer/load-balancer-nat-pool-migration):
# inbound NAT *pools* (the scale-set feature of NAT rules V1) retire on 30 September 2027; single-VM inbound NAT
# rules V1 are not affected. No new NAT pools since 15 November 2026: UNCONFIRMED (stated by the project's issue
# 9; not in the Learn text we could find).
NAT_POOL_RETIREMENT = "2027-09-30"
NAT_POOL_CREATION_STOP = "2026-11-15"
NAT_POOL_RETIREMENT_FACT = (f"Azure retires inbound NAT pools on {NAT_POOL_RETIREMENT} (no new NAT pools since "
                            f"{NAT_POOL_CREATION_STOP}); single-VM inbound NAT rules V1 are not affected")

NAT_RULE_V2_REQUIRES_STANDARD_SKU = "NatRuleV2RequiresStandardSku"


@dataclass(frozen=True)
class Refusal:
    """Azure would refuse: ``code`` is stable (alerting, tests), ``message`` says why and what to do."""

    code: str
    message: str


def nat_rule_v2_refusal(lb_name: str, sku_name: str | None) -> Refusal | None:
    """A NAT rule V2 (``backendAddressPool`` + frontend port range) needs a Standard load balancer.

    Learn, "Inbound NAT rules" (load-balancer/inbound-nat-rules): "The recommendation is to use Inbound NAT rule V2
    for Standard Load Balancer deployments"; pool-based (V2) rules and IP-based pools are Standard-only features
    (Learn, backend-pool-management). ARM's exact error code for a V2 rule on a Basic load balancer is UNCONFIRMED;
    ``NatRuleV2RequiresStandardSku`` is poolkeeper's own code. A missing SKU is Basic, as ARM defaults it.
    """
    sku = (sku_name or "Basic").strip()
    if sku.lower() == "standard":
        return None
    return Refusal(NAT_RULE_V2_REQUIRES_STANDARD_SKU,
                   f"{lb_name} is a {sku} load balancer; NAT rules V2 (backend pool based) need the Standard SKU. "
                   "Upgrade the load balancer to Standard first")
