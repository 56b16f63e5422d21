"""PK015: a Basic SKU load balancer or public IP.

Source: Microsoft (Azure updates / Microsoft Learn "Upgrade a basic load balancer" and "Upgrade a basic public IP
address"): Basic SKU load balancers and Basic SKU public IP addresses retired on 30 September 2025. Seed 003's
tutorial era created both by default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail

ID = "PK015"
FIX = ("upgrade to Standard SKU (Microsoft's AzureBasicLoadBalancerUpgrade module: Start-AzBasicLoadBalancerUpgrade; "
       "public IPs: az network public-ip update --sku Standard after detaching)")


@guardrail(id=ID, title="Basic SKU load balancer or public IP (retired 30 September 2025)", severity="high",
           source="Microsoft Learn: Basic load balancer and Basic public IP retirement", fix_hint=FIX,
           needs=("public_ips",))
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    for lb in view.snapshot.load_balancers.values():
        if lb.is_basic:
            yield found(ID, lb.id, f"load balancer {lb.name} is Basic SKU, retired on 2025-09-30", fix=FIX,
                        evidence={"sku": lb.sku})
    for pip in view.snapshot.public_ips.values():
        if pip.is_basic:
            yield found(ID, pip.id, f"public IP {pip.name} is Basic SKU, retired on 2025-09-30", fix=FIX,
                        evidence={"sku": pip.sku})
