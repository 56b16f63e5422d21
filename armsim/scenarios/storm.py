"""The storm benchmark's estate (``bench/storm.py``): room for a burst of hundreds of VMs on one load balancer.

Resource group ``stormRG`` (westus): vnet ``stormVnet`` 10.0.0.0/16 with subnet ``stormSubnet`` 10.0.0.0/20 (4,091
usable addresses; the tutorial's /24 fills at ~250 NICs), and a Standard load balancer ``stormLB`` (Standard: a Basic
load balancer's backend pool holds at most 300 instances, "Azure Load Balancer SKUs", Microsoft Learn) with frontend
``stormFrontEnd`` on the Standard static public IP ``stormPublicIP`` and backend pool ``stormPool``. No VMs and no NICs:
the benchmark creates them.
"""

from __future__ import annotations

from armsim.engine import Engine
from armsim.scenarios.common import Estate

RG = "stormRG"
LOCATION = "westus"
LB_NAME = "stormLB"
POOL = "stormPool"
FRONTEND = "stormFrontEnd"
VNET = "stormVnet"
SUBNET = "stormSubnet"


def build(engine: Engine) -> None:
    estate = Estate.create(engine, RG, LOCATION)
    estate.vnet(VNET, "10.0.0.0/16", {SUBNET: "10.0.0.0/20"})
    pip = estate.public_ip("stormPublicIP")
    estate.put(f"{estate.network}/loadBalancers/{LB_NAME}", {
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{"name": FRONTEND, "properties": {"publicIPAddress": {"id": pip}}}],
            "backendAddressPools": [{"name": POOL}],
        },
    })
