"""What Azure no longer lets anyone create, and the one door armsim keeps open for legacy estates.

- New Basic SKU IPv4 public IPs: refused since 31 March 2025 ("you'll no longer be able to create new ones after
  31 March 2025", Azure's retirement notice quoted in Azure/azure-quickstart-templates#14512). Azure answers
  ``IPv4BasicSkuPublicIpCountLimitReached`` — "Cannot create more than 0 IPv4 Basic SKU public IP addresses for this
  subscription in this region." (azure-mgmt-network error dump in skypilot-org/skypilot#7977). Status 400 assumed.
- New Basic SKU load balancers: Basic Load Balancer was retired on 30 September 2025 (Microsoft Learn, "Upgrading
  from Basic Load Balancer - Guidance"; creation blocked since 31 March 2025 per Azure/AKS#5020 and
  hashicorp/terraform-provider-azurerm#32314, which blocks ``sku = "Basic"`` for new LBs). No public error body was
  found: the code ``BasicSkuLoadBalancerCreationNotAllowed`` is UNCONFIRMED.
- New inbound NAT pools: the brief for issue 15 says Azure refuses new NAT pools since 15 November 2026; Microsoft
  Learn ("Migrate from Inbound NAT rules version 1 to version 2") announces the retirement of Inbound NAT Pools on
  30 September 2027 and points to NAT rules V2. No public error body was found: the code
  ``InboundNatPoolCreationNotAllowed`` is UNCONFIRMED. Existing NAT pools keep working (read, keep, remove).

Existing resources are untouched: updates, reads and deletes go on. The refusals apply to ARM requests only.
Writes armsim makes itself (``Engine.internal_put``: scenario seeding, providers) bypass them, so scenarios and tests
can still build the legacy Basic / NAT-pool estates that migration rehearsals start from.
"""

from __future__ import annotations

from armsim.errors import ArmError
from armsim.network.common import is_internal
from armsim.provider import Ctx


def legacy_allowed(ctx: Ctx) -> bool:
    """Whether this write may create retired kinds of resources: only armsim's own (seeding) writes may."""
    return is_internal(ctx)


def refuse_basic_public_ip(ctx: Ctx, pip_id: str, sku: str, version: str, creating: bool) -> None:
    if creating and sku == "Basic" and version == "IPv4" and not legacy_allowed(ctx):
        raise ArmError(
            400,
            "IPv4BasicSkuPublicIpCountLimitReached",
            "Cannot create more than 0 IPv4 Basic SKU public IP addresses for this subscription in this region. "
            f"({pip_id}: Basic SKU public IPs can no longer be created; use sku Standard with Static allocation.)",
        )


def refuse_basic_load_balancer(ctx: Ctx, lb_id: str, sku: str, creating: bool) -> None:
    if creating and sku == "Basic" and not legacy_allowed(ctx):
        raise ArmError(
            400,
            "BasicSkuLoadBalancerCreationNotAllowed",
            f"Load balancer {lb_id} cannot be created with sku Basic: Basic Load Balancer was retired on 30 September "
            "2025. Create a Standard SKU load balancer (see aka.ms/basiclbupgrade).",
        )


def refuse_new_nat_pools(ctx: Ctx, lb_id: str, new_pools: list[str]) -> None:
    if new_pools and not legacy_allowed(ctx):
        raise ArmError(
            400,
            "InboundNatPoolCreationNotAllowed",
            f"Inbound NAT pool {new_pools[0]} cannot be added to load balancer {lb_id}: new inbound NAT pools can no "
            "longer be created. Existing pools keep working; use inbound NAT rules V2 (a frontend port range on a "
            "backend address pool) instead.",
        )
