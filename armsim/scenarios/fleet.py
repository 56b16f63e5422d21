"""A fleet estate for sweeps, limits, maintenance and the scale benchmark: ``lbs`` Standard load balancers, each with
a frontend, a backend pool ``pool``, an HTTP probe and a probed load-balancing rule, and ``vms_per_lb`` VMs in an
availability set ``av{i}`` (subnet ``s{i}``, a /24: at most 250 VMs per load balancer). With ``in_pool``
the NICs are in their pool (an operator-wired estate);
without, every VM is drift a binding per availability set would wire. Built through ``Engine.internal_put``.

The registered scenario ``fleet`` is 2 load balancers × 5 VMs, not pooled; tests and ``bench/sweep_scale.py`` call
:func:`build_fleet` with their own sizes.
"""

from __future__ import annotations

from typing import Any

from armsim.engine import Engine
from armsim.scenarios.common import Estate

RG = "pkFleet"
LOCATION = "westus"
SSH_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCarmsimfleetkey azureuser@armsim"


def lb_id(subscription_id: str, i: int, rg: str = RG) -> str:
    return f"/subscriptions/{subscription_id}/resourceGroups/{rg}/providers/Microsoft.Network/loadBalancers/lb{i}"


def build(engine: Engine) -> None:
    build_fleet(engine, lbs=2, vms_per_lb=5)


def build_fleet(engine: Engine, *, lbs: int, vms_per_lb: int, in_pool: bool = False, rg: str = RG) -> None:
    estate = Estate.create(engine, rg, LOCATION)
    base, net, put = estate.providers, estate.network, estate.put
    # one /24 subnet per load balancer: small subnets keep armsim's address allocation cheap at 2,000 NICs
    vnet = estate.vnet("fleetVnet", "10.0.0.0/8", {f"s{i}": f"10.{i // 256}.{i % 256}.0/24" for i in range(lbs)})
    for i in range(lbs):
        lb = lb_id(engine.subscription_id, i, rg)
        pip = estate.public_ip(f"pip{i}")
        put(lb, {"sku": {"name": "Standard"}, "properties": {
            "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": pip}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [{"name": "http", "properties": {"protocol": "Http", "port": 80, "requestPath": "/"}}],
            "loadBalancingRules": [{"name": "web", "properties": {
                "protocol": "Tcp", "frontendPort": 80, "backendPort": 80, "disableOutboundSnat": True,
                "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"},
                "backendAddressPool": {"id": f"{lb}/backendAddressPools/pool"},
                "probe": {"id": f"{lb}/probes/http"}}}]}})
        put(f"{base}/Microsoft.Compute/availabilitySets/av{i}", {
            "sku": {"name": "Aligned"},
            "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 5}})
        for j in range(vms_per_lb):
            name = f"vm{i}x{j}"
            ip: dict[str, Any] = {"subnet": {"id": f"{vnet}/subnets/s{i}"}, "privateIPAllocationMethod": "Dynamic"}
            if in_pool:
                ip["loadBalancerBackendAddressPools"] = [{"id": f"{lb}/backendAddressPools/pool"}]
            nic = f"{net}/networkInterfaces/{name}-nic"
            put(nic, {"properties": {"ipConfigurations": [{"name": "ipconfig1",
                                                                                  "properties": ip}]}})
            put(f"{base}/Microsoft.Compute/virtualMachines/{name}", {"properties": {
                "availabilitySet": {"id": f"{base}/Microsoft.Compute/availabilitySets/av{i}"},
                "hardwareProfile": {"vmSize": "Standard_B1s"},
                "storageProfile": {"imageReference": {"publisher": "Canonical",
                                                      "offer": "0001-com-ubuntu-server-jammy",
                                                      "sku": "22_04-lts", "version": "latest"}},
                "osProfile": {"computerName": name, "adminUsername": "azureuser", "linuxConfiguration": {
                    "disablePasswordAuthentication": True,
                    "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": SSH_KEY}]}}},
                "networkProfile": {"networkInterfaces": [{"id": nic}]}}})


def fleet_config(subscription_id: str, arm_endpoint: str, *, lbs: int, rg: str = RG,
                 **extra: Any) -> dict[str, Any]:
    """A poolkeeper configuration with one binding per load balancer (availability set av{i} → lb{i}/pool)."""
    scope = f"/subscriptions/{subscription_id}/resourceGroups/{rg}"
    return {"scopes": [scope], "armEndpoint": arm_endpoint,
            "bindings": [{"name": f"b{i}", "match": {"availabilitySet": f"av{i}"},
                          "loadBalancer": lb_id(subscription_id, i, rg), "backendPool": "pool"} for i in range(lbs)],
            **extra}
