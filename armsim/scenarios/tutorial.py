"""Seed 003's network estate ("How to load balance virtual machines in Azure"), as its az commands leave it.

Names are the tutorial's own. Two eras:

- ``tutorial`` (``build_network``): what the seed's commands build TODAY with az 2.91, checked by
  tests/armsim/test_azcli_tutorial.py against a run of those commands from an empty subscription. ``az network
  public-ip create`` makes a Standard, Static IPv4 address (Basic public IPs were retired on 30 September 2025:
  Microsoft Learn, virtual-network/ip-services/public-ip-basic-upgrade-guidance), ``az network lb create`` a Standard
  load balancer, ``az network lb rule create`` sends the pool as ``backendAddressPools``, ``az network nic create``
  names the ip configuration ``ipconfig1`` (azure-cli, command_modules/network/custom.py ``create_nic``).
- ``tutorial-basic`` (``build_network_basic``): the tutorial-era estate — Basic load balancer, Basic dynamic public
  IP, ip configuration ``ipConfig1`` (the seed's later commands pass ``--ip-config-name ipConfig1``; az 2.91 matches
  that name exactly, so they run verbatim only against this estate) — kept for Basic-to-Standard migration
  rehearsals and for tests of Basic semantics.

The compute part (availability set, VMs) is built by ``tutorial_compute``.
"""

from __future__ import annotations

from typing import Any

from armsim.engine import Engine

RG = "myTutorial8"
LOCATION = "westus"
IPCONFIG = "ipconfig1"  # az 2.91's name
IPCONFIG_BASIC = "ipConfig1"  # the seed's name


def build_network(engine: Engine) -> None:
    """The tutorial's network as its Step 3 leaves it today: probe ``myHealthProbe`` and rule ``myLoadBalancerRule``."""
    _build_network(engine, with_probe_and_rule=True, basic=False)


def build_network_before_rules(engine: Engine) -> None:
    """The same network before the tutorial's ``az network lb probe create`` and ``az network lb rule create``.

    The load balancer has its frontend and backend pool only, so those two commands can be run verbatim against it.
    """
    _build_network(engine, with_probe_and_rule=False, basic=False)


def build_network_basic(engine: Engine) -> None:
    """The tutorial-era network: Basic SKUs, a dynamic public IP, ``ipConfig1``."""
    _build_network(engine, with_probe_and_rule=True, basic=True)


def _build_network(engine: Engine, *, with_probe_and_rule: bool, basic: bool) -> None:
    engine.ensure_resource_group(RG, LOCATION)
    net = f"/subscriptions/{engine.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network"
    pip = f"{net}/publicIPAddresses/myPublicIP"
    lb = f"{net}/loadBalancers/myLoadBalancer"
    vnet = f"{net}/virtualNetworks/myVnet"
    nsg = f"{net}/networkSecurityGroups/myNetworkSecurityGroup"
    sku = "Basic" if basic else "Standard"
    engine.internal_put(pip, {
        "location": LOCATION,
        "sku": {"name": sku} if basic else {"name": "Standard", "tier": "Regional"},
        "properties": {"publicIPAllocationMethod": "Dynamic" if basic else "Static",
                       **({} if basic else {"publicIPAddressVersion": "IPv4", "idleTimeoutInMinutes": 4})},
    })
    frontend_props: dict[str, Any] = {"publicIPAddress": {"id": pip}}
    if not basic:
        frontend_props["privateIPAddressVersion"] = "IPv4"
    lb_props: dict[str, Any] = {
        "frontendIPConfigurations": [{"name": "myFrontEndPool", "properties": frontend_props}],
        "backendAddressPools": [{"name": "myBackEndPool"}],
    }
    if with_probe_and_rule:
        lb_props["probes"] = [
            {
                "name": "myHealthProbe",
                "properties": {"protocol": "Tcp", "port": 80, "intervalInSeconds": 15, "numberOfProbes": 2,
                               **({} if basic else {"probeThreshold": 1})},
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
                    # az 2.91 sends the Gateway-era list; the tutorial-era az sent the single reference
                    **({"backendAddressPool": {"id": f"{lb}/backendAddressPools/myBackEndPool"}} if basic else
                       {"backendAddressPools": [{"id": f"{lb}/backendAddressPools/myBackEndPool"}],
                        "idleTimeoutInMinutes": 4, "enableFloatingIP": False, "enableTcpReset": False,
                        "disableOutboundSnat": False, "loadDistribution": "Default"}),
                    "probe": {"id": f"{lb}/probes/myHealthProbe"},
                },
            }
        ]
    engine.internal_put(lb, {"location": LOCATION, "sku": {"name": sku}, "properties": lb_props})
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
                            "name": IPCONFIG_BASIC if basic else IPCONFIG,
                            "properties": {
                                **({} if basic else {"privateIPAddressVersion": "IPv4", "primary": True}),
                                "subnet": {"id": f"{vnet}/subnets/mySubnet"},
                                "privateIPAllocationMethod": "Dynamic",
                                "loadBalancerBackendAddressPools": [{"id": f"{lb}/backendAddressPools/myBackEndPool"}],
                            },
                        }
                    ],
                },
            },
        )
