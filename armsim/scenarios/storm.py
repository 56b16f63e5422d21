"""The storm benchmark's estate (``bench/storm.py``): room for a burst of hundreds of VMs on one load balancer.

Resource group ``stormRG`` (westus): vnet ``stormVnet`` 10.0.0.0/16 with subnet ``stormSubnet`` 10.0.0.0/20 (4,091
usable addresses; the tutorial's /24 fills at ~250 NICs), and a Standard load balancer ``stormLB`` (Standard: a Basic
load balancer's backend pool holds at most 300 instances, "Azure Load Balancer SKUs", Microsoft Learn) with frontend
``stormFrontEnd`` on the Standard static public IP ``stormPublicIP`` and backend pool ``stormPool``. No VMs and no NICs:
the benchmark creates them.
"""

from __future__ import annotations

from armsim.engine import Engine
from armsim.scenarios.common import put_public_ip, put_vnet

RG = "stormRG"
LOCATION = "westus"
LB_NAME = "stormLB"
POOL = "stormPool"
FRONTEND = "stormFrontEnd"
VNET = "stormVnet"
SUBNET = "stormSubnet"


def build(engine: Engine) -> None:
    engine.ensure_resource_group(RG, LOCATION)
    net = f"/subscriptions/{engine.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network"
    pip = f"{net}/publicIPAddresses/stormPublicIP"
    put_vnet(engine, f"{net}/virtualNetworks/{VNET}", LOCATION, "10.0.0.0/16", {SUBNET: "10.0.0.0/20"})
    put_public_ip(engine, pip, LOCATION)
    engine.internal_put(f"{net}/loadBalancers/{LB_NAME}", {
        "location": LOCATION,
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{"name": FRONTEND, "properties": {"publicIPAddress": {"id": pip}}}],
            "backendAddressPools": [{"name": POOL}],
        },
    })
