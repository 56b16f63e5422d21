"""An estate with one seeded violation of each poolkeeper guardrail (PK001-PK015), for the guardrail tests.

Resource group ``pkViolations`` (westus), built through armsim's own validation (so every state here is one Azure
accepts; combinations Azure refuses — a pool across virtual networks, duplicate NAT frontend ports, an inactive
scale-set health probe — are covered by unit tests instead):

- ``lbWeb`` (Standard): pool ``web`` behind rule ``http`` (80, HTTP probe) and rule ``noprobe`` (8080, no probe:
  PK004); outbound rule ``out`` on another frontend for the same pool while both rules keep implicit SNAT (PK008);
  NAT rule ``orphan-nat`` pointing at nothing (PK012). Availability set ``avWeb``: ``vmA1`` (subnet a), ``vmA2``
  (subnet b: PK002), ``vmA3`` (NSG denies AzureLoadBalancer on 80: PK005), ``vmA4`` (own public IP: PK001),
  ``vmA5`` (NSG allows 22 from Internet: PK006), ``vmA6`` (not in the pool the binding wants: PK013). Availability
  set ``avSolo``: ``vmS1`` alone in the pool (PK003).
- ``lbSets`` (Standard): scale sets ``ss1`` and ``ss2`` in pool ``sets`` (PK007); rule ``app`` sends 9000 while
  ``ss1``'s health probe ``p9001`` tests 9001 (PK011); NAT pool ``natpool`` used by ``ss1`` (PK009); ``ss2``'s model
  changed after its instances were made (Manual policy: PK010).
- ``lbBasic`` (Basic) with Basic public IP ``pipBasic`` (PK015).

PK014 (headroom under the scale set's instance limit) is not seeded by capacity (that would mean ~96 instances): the
test sets its ``minHeadroom`` parameter above the scale sets' headroom instead. Autoscale settings and regional
quotas are not simulated at all.
"""

from __future__ import annotations

import copy
from typing import Any

from armsim.engine import Engine
from armsim.scenarios.common import Estate

RG = "pkViolations"
LOCATION = "westus"
SSH_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQCarmsimviolationskey azureuser@armsim"


def build(engine: Engine) -> None:
    estate = Estate.create(engine, RG, LOCATION)
    base, net, put = estate.providers, estate.network, estate.put
    vnet = estate.vnet("vnet1", "10.1.0.0/16", {"a": "10.1.0.0/24", "b": "10.1.1.0/24"})
    for name in ("pipWeb", "pipOut", "pipVm", "pipSets", "pipNat"):
        estate.public_ip(name)
    estate.public_ip("pipBasic", sku="Basic")

    def rule(name: str, prio: int, port: str, source: str, access: str = "Allow") -> dict[str, Any]:
        return {"name": name, "properties": {"priority": prio, "protocol": "Tcp", "access": access,
                                             "direction": "Inbound", "sourceAddressPrefix": source,
                                             "sourcePortRange": "*", "destinationAddressPrefix": "*",
                                             "destinationPortRange": port}}

    nsgs = {
        "nsgOk": [rule("allow-web", 1000, "80", "*"), rule("allow-alt", 1001, "8080", "*")],
        "nsgNoProbe": [rule("deny-probe", 100, "80", "AzureLoadBalancer", "Deny"), rule("allow-web", 1000, "80", "*")],
        "nsgSsh": [rule("ssh-anywhere", 100, "22", "Internet"), rule("allow-web", 1000, "80", "*")],
    }
    for name, rules in nsgs.items():
        put(f"{net}/networkSecurityGroups/{name}", {"properties": {"securityRules": rules}})

    def frontend(name: str, pip: str) -> dict[str, Any]:
        return {"name": name, "properties": {"publicIPAddress": {"id": f"{net}/publicIPAddresses/{pip}"}}}

    lb = f"{net}/loadBalancers/lbWeb"
    put(lb, {"sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [frontend("fe", "pipWeb"), frontend("feOut", "pipOut")],
        "backendAddressPools": [{"name": "web"}],
        "probes": [{"name": "http80", "properties": {"protocol": "Http", "port": 80, "requestPath": "/"}}],
        "loadBalancingRules": [
            {"name": "http", "properties": {
                "protocol": "Tcp", "frontendPort": 80, "backendPort": 80,
                "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"},
                "backendAddressPool": {"id": f"{lb}/backendAddressPools/web"}, "probe": {"id": f"{lb}/probes/http80"}}},
            {"name": "noprobe", "properties": {
                "protocol": "Tcp", "frontendPort": 8080, "backendPort": 8080,
                "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"},
                "backendAddressPool": {"id": f"{lb}/backendAddressPools/web"}}}],
        "outboundRules": [{"name": "out", "properties": {
            "protocol": "All", "frontendIPConfigurations": [{"id": f"{lb}/frontendIPConfigurations/feOut"}],
            "backendAddressPool": {"id": f"{lb}/backendAddressPools/web"}}}],
        "inboundNatRules": [{"name": "orphan-nat", "properties": {
            "protocol": "Tcp", "frontendPort": 60000, "backendPort": 8022,
            "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"}}}],
    }})

    for avset in ("avWeb", "avSolo"):
        put(f"{base}/Microsoft.Compute/availabilitySets/{avset}", {
            "sku": {"name": "Aligned"},
            "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 5}})
    web_pool = f"{lb}/backendAddressPools/web"
    vms = [  # (vm, avset, subnet, nsg, in pool, public ip)
        ("vmA1", "avWeb", "a", "nsgOk", True, None), ("vmA2", "avWeb", "b", "nsgOk", True, None),
        ("vmA3", "avWeb", "a", "nsgNoProbe", True, None), ("vmA4", "avWeb", "a", "nsgOk", True, "pipVm"),
        ("vmA5", "avWeb", "a", "nsgSsh", True, None), ("vmA6", "avWeb", "a", "nsgOk", False, None),
        ("vmS1", "avSolo", "a", "nsgOk", True, None),
    ]
    for name, avset, subnet, nsg, in_pool, pip in vms:
        ip: dict[str, Any] = {"subnet": {"id": f"{vnet}/subnets/{subnet}"}, "privateIPAllocationMethod": "Dynamic"}
        if in_pool:
            ip["loadBalancerBackendAddressPools"] = [{"id": web_pool}]
        if pip:
            ip["publicIPAddress"] = {"id": f"{net}/publicIPAddresses/{pip}"}
        nic = f"{net}/networkInterfaces/{name}-nic"
        put(nic, {"properties": {
            "networkSecurityGroup": {"id": f"{net}/networkSecurityGroups/{nsg}"},
            "ipConfigurations": [{"name": "ipconfig1", "properties": ip}]}})
        put(f"{base}/Microsoft.Compute/virtualMachines/{name}", {"properties": {
            "availabilitySet": {"id": f"{base}/Microsoft.Compute/availabilitySets/{avset}"},
            "hardwareProfile": {"vmSize": "Standard_B1s"},
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                                                  "sku": "22_04-lts", "version": "latest"}},
            "osProfile": {"computerName": name, "adminUsername": "azureuser", "linuxConfiguration": {
                "disablePasswordAuthentication": True,
                "ssh": {"publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys", "keyData": SSH_KEY}]}}},
            "networkProfile": {"networkInterfaces": [{"id": nic}]}}})

    sets = f"{net}/loadBalancers/lbSets"
    put(sets, {"sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [frontend("fe", "pipSets"), frontend("feNat", "pipNat")],
        "backendAddressPools": [{"name": "sets"}],
        "probes": [{"name": "p9001", "properties": {"protocol": "Tcp", "port": 9001}}],
        "loadBalancingRules": [{"name": "app", "properties": {
            "protocol": "Tcp", "frontendPort": 9000, "backendPort": 9000, "disableOutboundSnat": True,
            "frontendIPConfiguration": {"id": f"{sets}/frontendIPConfigurations/fe"},
            "backendAddressPool": {"id": f"{sets}/backendAddressPools/sets"},
            "probe": {"id": f"{sets}/probes/p9001"}}}],
        "inboundNatPools": [{"name": "natpool", "properties": {
            "frontendIPConfiguration": {"id": f"{sets}/frontendIPConfigurations/feNat"}, "protocol": "Tcp",
            "frontendPortRangeStart": 50000, "frontendPortRangeEnd": 50099, "backendPort": 22}}],
    }})
    for name in ("ss1", "ss2"):
        ipc: dict[str, Any] = {"subnet": {"id": f"{vnet}/subnets/a"},
                               "loadBalancerBackendAddressPools": [{"id": f"{sets}/backendAddressPools/sets"}]}
        network: dict[str, Any] = {"networkInterfaceConfigurations": [{"name": f"{name}-nic", "properties": {
            "primary": True, "ipConfigurations": [{"name": f"{name}-ip", "properties": ipc}]}}]}
        if name == "ss1":
            ipc["loadBalancerInboundNatPools"] = [{"id": f"{sets}/inboundNatPools/natpool"}]
            network["healthProbe"] = {"id": f"{sets}/probes/p9001"}
        body: dict[str, Any] = {
            "sku": {"name": "Standard_DS1_v2", "tier": "Standard", "capacity": 2},
            "properties": {"orchestrationMode": "Uniform", "overprovision": False, "upgradePolicy": {"mode": "Manual"},
                           "virtualMachineProfile": {
                               "storageProfile": {"imageReference": {
                                   "publisher": "Canonical", "offer": "0001-com-ubuntu-server-jammy",
                                   "sku": "22_04-lts", "version": "latest"}},
                               "osProfile": {"computerNamePrefix": name, "adminUsername": "azureuser",
                                             "linuxConfiguration": {"disablePasswordAuthentication": True, "ssh": {
                                                 "publicKeys": [{"path": "/home/azureuser/.ssh/authorized_keys",
                                                                 "keyData": SSH_KEY}]}}},
                               "networkProfile": network}}}
        put(f"{base}/Microsoft.Compute/virtualMachineScaleSets/{name}", body)
        if name == "ss2":  # someone changes the model; Manual policy leaves the instances on the old one
            changed = copy.deepcopy(body)
            changed["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["version"] = "22.04.1"
            put(f"{base}/Microsoft.Compute/virtualMachineScaleSets/{name}", changed)

    basic = f"{net}/loadBalancers/lbBasic"
    put(basic, {"sku": {"name": "Basic"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {
            "publicIPAddress": {"id": f"{net}/publicIPAddresses/pipBasic"}}}]}})
