"""Raw ARM JSON for the tutorial estate (seed 003): myLoadBalancer with myFrontEndPool/myBackEndPool, NICs
myNic1..3 with ipConfig1 in myVnet/mySubnet, VMs myVM1..3 in myAvailabilitySet. Shapes follow the 2024-07-01
examples in tests/data/reference (camelCase, empty collections sometimes omitted, as ARM does)."""

from __future__ import annotations

import copy
from typing import Any

from poolkeeper.config import Config, parse_config
from poolkeeper.model import Snapshot

SUB = "00000000-0000-0000-0000-000000000001"
RG = "myTutorial8"
SCOPE = f"/subscriptions/{SUB}/resourceGroups/{RG}"


def rg_id(rg: str = RG) -> str:
    return f"/subscriptions/{SUB}/resourceGroups/{rg}"


def net_id(kind: str, name: str, rg: str = RG) -> str:
    return f"{rg_id(rg)}/providers/Microsoft.Network/{kind}/{name}"


def compute_id(kind: str, name: str, rg: str = RG) -> str:
    return f"{rg_id(rg)}/providers/Microsoft.Compute/{kind}/{name}"


LB_ID = net_id("loadBalancers", "myLoadBalancer")
POOL_ID = f"{LB_ID}/backendAddressPools/myBackEndPool"
FE_ID = f"{LB_ID}/frontendIPConfigurations/myFrontEndPool"
AVSET_ID = compute_id("availabilitySets", "myAvailabilitySet")


def subnet_id(vnet: str = "myVnet", subnet: str = "mySubnet", rg: str = RG) -> str:
    return f"{net_id('virtualNetworks', vnet, rg)}/subnets/{subnet}"


def load_balancer(name: str = "myLoadBalancer", *, rg: str = RG, sku: str = "Standard",
                  pools: tuple[str, ...] = ("myBackEndPool",), frontends: tuple[str, ...] = ("myFrontEndPool",),
                  internal_subnet: str | None = None, nat_rules: list[dict[str, Any]] | None = None,
                  nat_pools: list[dict[str, Any]] | None = None, lb_rules: bool = True) -> dict[str, Any]:
    lb_id = net_id("loadBalancers", name, rg)
    fes = []
    for fe in frontends:
        props: dict[str, Any] = {"provisioningState": "Succeeded"}
        if internal_subnet:
            props.update(privateIPAllocationMethod="Dynamic", subnet={"id": internal_subnet})
        else:
            props["publicIPAddress"] = {"id": net_id("publicIPAddresses", "myPublicIP", rg)}
        fes.append({"name": fe, "id": f"{lb_id}/frontendIPConfigurations/{fe}", "properties": props})
    props = {
        "provisioningState": "Succeeded",
        "frontendIPConfigurations": fes,
        "backendAddressPools": [{"name": p, "id": f"{lb_id}/backendAddressPools/{p}",
                                 "properties": {"provisioningState": "Succeeded"}} for p in pools],
        "probes": [{"name": "myHealthProbe", "id": f"{lb_id}/probes/myHealthProbe",
                    "properties": {"protocol": "Tcp", "port": 80, "intervalInSeconds": 15, "numberOfProbes": 2}}],
        "loadBalancingRules": [{
            "name": "myLoadBalancerRule", "id": f"{lb_id}/loadBalancingRules/myLoadBalancerRule",
            "properties": {"frontendIPConfiguration": {"id": fes[0]["id"]}, "frontendPort": 80, "backendPort": 80,
                           "protocol": "Tcp", "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/{pools[0]}"},
                           "probe": {"id": f"{lb_id}/probes/myHealthProbe"}, "disableOutboundSnat": False}}]
        if lb_rules else [],
        "inboundNatRules": nat_rules or [],
    }
    if nat_pools:
        props["inboundNatPools"] = nat_pools
    return {"name": name, "id": lb_id, "type": "Microsoft.Network/loadBalancers", "location": "westus",
            "etag": 'W/"00000000-0000-0000-0000-000000000001"', "sku": {"name": sku}, "properties": props}


def nat_rule(name: str, frontend_port: int, *, backend_port: int = 22, protocol: str = "Tcp",
             backend_ip_configuration: str | None = None, lb_id: str = LB_ID, frontend_id: str = FE_ID
             ) -> dict[str, Any]:
    props: dict[str, Any] = {"frontendIPConfiguration": {"id": frontend_id}, "frontendPort": frontend_port,
                             "backendPort": backend_port, "protocol": protocol, "provisioningState": "Succeeded"}
    if backend_ip_configuration:
        props["backendIPConfiguration"] = {"id": backend_ip_configuration}
    return {"name": name, "id": f"{lb_id}/inboundNatRules/{name}", "properties": props}


def nat_pool(name: str, start: int, end: int, *, backend_port: int = 22, lb_id: str = LB_ID,
             frontend_id: str = FE_ID) -> dict[str, Any]:
    return {"name": name, "id": f"{lb_id}/inboundNatPools/{name}",
            "properties": {"frontendIPConfiguration": {"id": frontend_id}, "protocol": "Tcp",
                           "frontendPortRangeStart": start, "frontendPortRangeEnd": end, "backendPort": backend_port}}


def nic(name: str, *, rg: str = RG, vm: str | None = None, pools: tuple[str, ...] = (),
        nat_rules: tuple[str, ...] = (), subnet: str | None = None, tags: dict[str, str] | None = None
        ) -> dict[str, Any]:
    nic_id = net_id("networkInterfaces", name, rg)
    ip: dict[str, Any] = {"provisioningState": "Succeeded", "privateIPAllocationMethod": "Dynamic",
                          "subnet": {"id": subnet or subnet_id()}, "primary": True}
    if pools:
        ip["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
    if nat_rules:
        ip["loadBalancerInboundNatRules"] = [{"id": r} for r in nat_rules]
    props: dict[str, Any] = {"provisioningState": "Succeeded", "primary": True,
                             "ipConfigurations": [{"name": "ipConfig1", "id": f"{nic_id}/ipConfigurations/ipConfig1",
                                                   "properties": ip}]}
    if vm:
        props["virtualMachine"] = {"id": vm}
    out: dict[str, Any] = {"name": name, "id": nic_id, "type": "Microsoft.Network/networkInterfaces",
                           "location": "westus", "etag": 'W/"1"', "properties": props}
    if tags:
        out["tags"] = dict(tags)
    return out


def ipconfig_id(nic_name: str, rg: str = RG) -> str:
    return f"{net_id('networkInterfaces', nic_name, rg)}/ipConfigurations/ipConfig1"


def vm(name: str, *, rg: str = RG, nics: tuple[str, ...] | None = None, avset: str | None = AVSET_ID,
       tags: dict[str, str] | None = None, scale_set: str | None = None, state: str = "Succeeded"
       ) -> dict[str, Any]:
    nic_ids = [net_id("networkInterfaces", n, rg) for n in (nics or (name.replace("VM", "Nic"),))]
    props: dict[str, Any] = {"provisioningState": state, "networkProfile": {"networkInterfaces": [
        {"id": n, "properties": {"primary": i == 0}} for i, n in enumerate(nic_ids)]}}
    if avset:
        props["availabilitySet"] = {"id": avset}
    if scale_set:
        props["virtualMachineScaleSet"] = {"id": scale_set}
    out: dict[str, Any] = {"name": name, "id": compute_id("virtualMachines", name, rg),
                           "type": "Microsoft.Compute/virtualMachines", "location": "westus", "etag": '"1"',
                           "properties": props}
    if tags:
        out["tags"] = dict(tags)
    return out


def scale_set(name: str = "myScaleSet", *, rg: str = RG, pools: tuple[str, ...] = (), mode: str = "Uniform",
              upgrade: str = "Manual", tags: dict[str, str] | None = None, subnet: str | None = None,
              nat_pools: tuple[str, ...] = ()) -> dict[str, Any]:
    ip: dict[str, Any] = {"subnet": {"id": subnet or subnet_id()}, "primary": True}
    if pools:
        ip["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
    if nat_pools:
        ip["loadBalancerInboundNatPools"] = [{"id": p} for p in nat_pools]
    out: dict[str, Any] = {
        "name": name, "id": compute_id("virtualMachineScaleSets", name, rg),
        "type": "Microsoft.Compute/virtualMachineScaleSets", "location": "westus", "etag": '"3"',
        "sku": {"name": "Standard_D1_v2", "tier": "Standard", "capacity": 2},
        "properties": {"orchestrationMode": mode, "upgradePolicy": {"mode": upgrade}, "provisioningState": "Succeeded",
                       "virtualMachineProfile": {"networkProfile": {"networkInterfaceConfigurations": [
                           {"name": f"{name}-nic", "properties": {"primary": True, "ipConfigurations": [
                               {"name": f"{name}-ip", "properties": ip}]}}]}}}}
    if tags:
        out["tags"] = dict(tags)
    return out


def instance(scale_set_id: str, instance_id: str, *, latest: bool = True) -> dict[str, Any]:
    iid = f"{scale_set_id}/virtualMachines/{instance_id}"
    return {"name": f"{scale_set_id.rsplit('/', 1)[-1]}_{instance_id}", "id": iid, "instanceId": instance_id,
            "type": "Microsoft.Compute/virtualMachineScaleSets/virtualMachines", "location": "westus",
            "properties": {"latestModelApplied": latest, "provisioningState": "Succeeded",
                           "networkProfile": {"networkInterfaces": [{"id": f"{iid}/networkInterfaces/nic"}]}}}


def tutorial(n: int = 3, *, joined: bool = False, sku: str = "Standard", tagged: bool = False) -> dict[str, Any]:
    """Snapshot.from_arm kwargs for the tutorial: n VMs, NICs in the pool if ``joined`` (as the tutorial's
    ``--lb-address-pools`` leaves them; ``tagged`` adds poolkeeper's ownership tag)."""
    vms, nics = [], []
    for i in range(1, n + 1):
        vms.append(vm(f"myVM{i}"))
        nics.append(nic(f"myNic{i}", vm=compute_id("virtualMachines", f"myVM{i}"),
                        pools=(POOL_ID,) if joined else (), tags={"poolkeeper.binding": "web"} if tagged else None))
    return {"vms": vms, "nics": nics, "load_balancers": [load_balancer(sku=sku)]}


def snapshot(**kwargs: Any) -> Snapshot:
    return Snapshot.from_arm(**copy.deepcopy(kwargs))


def binding(name: str = "web", *, match: dict[str, Any] | None = None, nat: dict[str, Any] | None = None,
            lb: str = LB_ID, pool: str = "myBackEndPool", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "match": match or {"availabilitySet": "myAvailabilitySet"},
                           "loadBalancer": lb, "backendPool": pool}
    if nat is not None:
        out["natRule"] = nat
    out.update(extra)
    return out


def ssh(mode: str = "v1", start: int = 50001, end: int = 50100, **extra: Any) -> dict[str, Any]:
    return {"backendPort": 22, "protocol": "Tcp", "frontendIpConfiguration": "myFrontEndPool",
            "frontendPortRange": [start, end], "mode": mode, **extra}


def config(*bindings: dict[str, Any], scopes: tuple[str, ...] = (SCOPE,), **top: Any) -> Config:
    return parse_config({"scopes": list(scopes), "bindings": list(bindings), **top})
