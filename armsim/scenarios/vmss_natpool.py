"""Seed 001's estate: a Uniform scale set behind a Standard load balancer with an inbound NAT pool.

Resource group ``MyResourceGroup`` (westus): vnet ``MyVnet``/``MySubnet``; ``MyLoadBalancer`` (Standard) with two
frontends — ``LoadBalancerFrontEnd`` (public IP ``MyPublicIP``) used by rule ``MyLoadBalancerRule`` on port 80 with
probe ``MyHealthProbe``, and ``MyFrontendIp`` (public IP ``MyFrontendPublicIP``) used only by NAT pool ``MyNatPool``
(50000-50119 -> 22, Tcp) — backend pool ``MyBackendPool``, and scale set ``MyVMSS`` (Manual upgrade policy,
capacity 3) whose model uses the pool and ``MyNatPool``. Its instances are up to date, so the load balancer carries
``MyNatPool.0``..``MyNatPool.2``. The seed's four commands (model update, update-instances, NAT pool delete,
frontend delete) then succeed in that order and only in that order.
"""

from __future__ import annotations

from armsim.engine import Engine
from armsim.scenarios.common import Estate

RG = "MyResourceGroup"
LOCATION = "westus"


def build(engine: Engine) -> None:
    estate = Estate.create(engine, RG, LOCATION)
    vnet = estate.vnet("MyVnet", "10.0.0.0/16", {"MySubnet": "10.0.0.0/24"})
    pip_rule, pip_nat = estate.public_ip("MyPublicIP"), estate.public_ip("MyFrontendPublicIP")
    lb = f"{estate.network}/loadBalancers/MyLoadBalancer"
    estate.put(lb, {
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [
                {"name": "LoadBalancerFrontEnd", "properties": {"publicIPAddress": {"id": pip_rule}}},
                {"name": "MyFrontendIp", "properties": {"publicIPAddress": {"id": pip_nat}}},
            ],
            "backendAddressPools": [{"name": "MyBackendPool"}],
            "probes": [{"name": "MyHealthProbe", "properties": {"protocol": "Tcp", "port": 80,
                                                                 "intervalInSeconds": 5, "numberOfProbes": 2}}],
            "loadBalancingRules": [{
                "name": "MyLoadBalancerRule",
                "properties": {
                    "protocol": "Tcp", "frontendPort": 80, "backendPort": 80,
                    "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/LoadBalancerFrontEnd"},
                    "backendAddressPool": {"id": f"{lb}/backendAddressPools/MyBackendPool"},
                    "probe": {"id": f"{lb}/probes/MyHealthProbe"},
                },
            }],
            "inboundNatPools": [{
                "name": "MyNatPool",
                "properties": {
                    "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/MyFrontendIp"},
                    "protocol": "Tcp", "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50119,
                    "backendPort": 22,
                },
            }],
        },
    })
    estate.put(f"{estate.providers}/Microsoft.Compute/virtualMachineScaleSets/MyVMSS", {
        "sku": {"name": "Standard_DS1_v2", "tier": "Standard", "capacity": 3},
        "properties": {
            "orchestrationMode": "Uniform",
            "overprovision": True,
            "upgradePolicy": {"mode": "Manual"},
            "virtualMachineProfile": {
                "storageProfile": {
                    "imageReference": {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "18.04-LTS",
                                       "version": "latest"},
                    "osDisk": {"createOption": "FromImage", "caching": "ReadWrite",
                               "managedDisk": {"storageAccountType": "Premium_LRS"}},
                },
                "osProfile": {
                    "computerNamePrefix": "myvmss",
                    "adminUsername": "azureuser",
                    "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {"publicKeys": [{
                        "path": "/home/azureuser/.ssh/authorized_keys",
                        "keyData": "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCarmsimnatpoolkey azureuser@armsim",
                    }]}},
                },
                "networkProfile": {
                    "healthProbe": {"id": f"{lb}/probes/MyHealthProbe"},
                    "networkInterfaceConfigurations": [{
                        "name": "myvmssNic",
                        "properties": {
                            "primary": True,
                            "ipConfigurations": [{
                                "name": "myvmssIPConfig",
                                "properties": {
                                    "subnet": {"id": f"{vnet}/subnets/MySubnet"},
                                    "loadBalancerBackendAddressPools": [
                                        {"id": f"{lb}/backendAddressPools/MyBackendPool"}],
                                    "loadBalancerInboundNatPools": [{"id": f"{lb}/inboundNatPools/MyNatPool"}],
                                },
                            }],
                        },
                    }],
                },
            },
        },
    })
