"""A clean estate for the guardrail unit tests (raw ARM JSON, extending tests/unit/builders.py), and helpers.

Clean means every guardrail passes: Standard SKUs, an HTTP probe on the HTTP rule, three VMs in the availability
set, all in the pool with their pk- NAT rules (frontend 50001-50003 -> 22), an NSG on the NICs that allows port 80
from anywhere and leaves 22 to the default DenyAllInBound.
"""

from __future__ import annotations

import copy
from typing import Any

from poolkeeper.config import Config
from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View
from poolkeeper.guardrails.runner import run_checks, selected
from poolkeeper.guardrails.settings import effective
from poolkeeper.model import Snapshot
from tests.unit.builders import (
    LB_ID,
    POOL_ID,
    binding,
    compute_id,
    config,
    ipconfig_id,
    load_balancer,
    nat_rule,
    net_id,
    nic,
    ssh,
    subnet_id,
    vm,
)

NSG_ID = net_id("networkSecurityGroups", "myNetworkSecurityGroup")
PIP_ID = net_id("publicIPAddresses", "myPublicIP")
VNET_ID = net_id("virtualNetworks", "myVnet")


def rule(name: str, priority: int, *, port: str = "*", source: str = "*", access: str = "Allow",
         protocol: str = "Tcp", direction: str = "Inbound", **extra: Any) -> dict[str, Any]:
    props = {"priority": priority, "protocol": protocol, "access": access, "direction": direction,
             "sourceAddressPrefix": source, "sourcePortRange": "*", "destinationAddressPrefix": "*",
             "destinationPortRange": port, **extra}
    return {"name": name, "id": f"{NSG_ID}/securityRules/{name}", "properties": props}


def nsg(*rules: dict[str, Any], nsg_id: str = NSG_ID) -> dict[str, Any]:
    return {"name": nsg_id.rsplit("/", 1)[-1], "id": nsg_id, "location": "westus",
            "properties": {"securityRules": list(rules)}}


def vnet(subnet_nsg: str | None = None, extra_subnets: tuple[str, ...] = ()) -> dict[str, Any]:
    subnets = []
    for name in ("mySubnet", *extra_subnets):
        props: dict[str, Any] = {"addressPrefix": "10.0.0.0/24"}
        if subnet_nsg and name == "mySubnet":
            props["networkSecurityGroup"] = {"id": subnet_nsg}
        subnets.append({"name": name, "id": f"{VNET_ID}/subnets/{name}", "properties": props})
    return {"name": "myVnet", "id": VNET_ID, "location": "westus", "properties": {"subnets": subnets}}


def clean() -> dict[str, Any]:
    """Snapshot.from_arm kwargs of the clean estate."""
    lb = load_balancer(sku="Standard", nat_rules=[
        nat_rule(f"pk-myVM{i}-22", 50000 + i, backend_ip_configuration=ipconfig_id(f"myNic{i}")) for i in (1, 2, 3)])
    lb["properties"]["probes"][0]["properties"].update(protocol="Http", requestPath="/")
    nics = []
    for i in (1, 2, 3):
        n = nic(f"myNic{i}", vm=compute_id("virtualMachines", f"myVM{i}"), pools=(POOL_ID,),
                nat_rules=(f"{LB_ID}/inboundNatRules/pk-myVM{i}-22",), tags={"poolkeeper.binding": "web"})
        n["properties"]["networkSecurityGroup"] = {"id": NSG_ID}
        n["properties"]["ipConfigurations"][0]["properties"]["privateIPAddress"] = f"10.0.0.{3 + i}"
        nics.append(n)
    return {"vms": [vm(f"myVM{i}") for i in (1, 2, 3)], "nics": nics, "load_balancers": [lb],
            "nsgs": [nsg(rule("allow-http", 1001, port="80"))], "virtual_networks": [vnet()],
            "public_ips": [{"name": "myPublicIP", "id": PIP_ID, "location": "westus", "sku": {"name": "Standard"},
                            "properties": {}}]}


def clean_config(**guardrails: Any) -> Config:
    return config(binding(nat=ssh(end=50099)), guardrails=guardrails) if guardrails else config(
        binding(nat=ssh(end=50099)))


def snap(estate: dict[str, Any]) -> Snapshot:
    return Snapshot.from_arm(**copy.deepcopy(estate))


def findings(estate: dict[str, Any], cfg: Config | None = None, only: list[str] | None = None) -> list[Finding]:
    cfg = cfg or clean_config()
    return run_checks(View(snap(estate), cfg), selected(effective(cfg.guardrails), only))


def ids(estate: dict[str, Any], cfg: Config | None = None) -> set[str]:
    return {f.guardrail for f in findings(estate, cfg)}


__all__ = ["LB_ID", "NSG_ID", "PIP_ID", "POOL_ID", "VNET_ID", "clean", "clean_config", "findings", "ids", "nsg",
           "rule", "snap", "subnet_id", "vnet"]
