"""Seed 003's network estate ("How to load balance virtual machines in Azure"), as its az commands leave it.

Names are the tutorial's own. The load balancer is Basic SKU, as ``az network lb create`` made it in the tutorial
era. The NICs' ip configuration is named ``ipConfig1``: the tutorial's later commands pass
``--ip-config-name ipConfig1``; az of that era matched names case-insensitively (``ipconfig1`` would do) but newer az
matches exactly, so ``ipConfig1`` makes the seed's commands work verbatim with both. The compute part (availability
set, VMs) is built by ``tutorial_compute.build_compute``.
"""

from __future__ import annotations

from typing import Any

from armsim.engine import Engine

RG = "myTutorial8"
LOCATION = "westus"
IPCONFIG = "ipConfig1"


def build_network(engine: Engine) -> None:
    """The tutorial's network as its Step 3 leaves it: probe ``myHealthProbe`` and rule ``myLoadBalancerRule`` made."""
    _build_network(engine, with_probe_and_rule=True)


def build_network_before_rules(engine: Engine) -> None:
    """The same network before the tutorial's ``az network lb probe create`` and ``az network lb rule create``.

    The load balancer has its frontend and backend pool only, so those two commands can be run verbatim against it.
    """
    _build_network(engine, with_probe_and_rule=False)


def _build_network(engine: Engine, *, with_probe_and_rule: bool) -> None:
    engine.ensure_resource_group(RG, LOCATION)
    net = f"/subscriptions/{engine.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network"
    pip = f"{net}/publicIPAddresses/myPublicIP"
    lb = f"{net}/loadBalancers/myLoadBalancer"
    vnet = f"{net}/virtualNetworks/myVnet"
    nsg = f"{net}/networkSecurityGroups/myNetworkSecurityGroup"
    engine.internal_put(
        pip, {"location": LOCATION, "sku": {"name": "Basic"}, "properties": {"publicIPAllocationMethod": "Dynamic"}}
    )
    lb_props: dict[str, Any] = {
        "frontendIPConfigurations": [{"name": "myFrontEndPool", "properties": {"publicIPAddress": {"id": pip}}}],
        "backendAddressPools": [{"name": "myBackEndPool"}],
    }
    if with_probe_and_rule:
        lb_props["probes"] = [
            {
                "name": "myHealthProbe",
                "properties": {"protocol": "Tcp", "port": 80, "intervalInSeconds": 15, "numberOfProbes": 2},
            }
        ]
        lb_props["loadBalancingRules"] = [
            {
                "name": "myLoadBalancerRule",
                "properties": {
                    "protocol": "Tcp",
                    "frontendPort": 80,
                    "backendPort": 80,
                    "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/myFrontEndPool"},
                    "backendAddressPool": {"id": f"{lb}/backendAddressPools/myBackEndPool"},
                    "probe": {"id": f"{lb}/probes/myHealthProbe"},
                },
            }
        ]
    engine.internal_put(lb, {"location": LOCATION, "sku": {"name": "Basic"}, "properties": lb_props})
    engine.internal_put(
        vnet,
        {
            "location": LOCATION,
            "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "mySubnet", "properties": {"addressPrefix": "10.0.0.0/24"}}],
            },
        },
    )
    engine.internal_put(
        nsg,
        {
            "location": LOCATION,
            "properties": {
                "securityRules": [
                    {
                        "name": "myNetworkSecurityGroupRule",
                        "properties": {
                            "priority": 1001,
                            "protocol": "Tcp",
                            "destinationPortRange": "80",
                            "access": "Allow",
                            "direction": "Inbound",
                            "sourcePortRange": "*",
                            "sourceAddressPrefix": "*",
                            "destinationAddressPrefix": "*",
                        },
                    }
                ]
            },
        },
    )
    for i in (1, 2, 3):
        engine.internal_put(
            f"{net}/networkInterfaces/myNic{i}",
            {
                "location": LOCATION,
                "properties": {
                    "networkSecurityGroup": {"id": nsg},
                    "ipConfigurations": [
                        {
                            "name": IPCONFIG,
                            "properties": {
                                "subnet": {"id": f"{vnet}/subnets/mySubnet"},
                                "privateIPAllocationMethod": "Dynamic",
                                "loadBalancerBackendAddressPools": [{"id": f"{lb}/backendAddressPools/myBackEndPool"}],
                            },
                        }
                    ],
                },
            },
        )
