"""Network security groups with ``securityRules`` (writable child) and Azure's six ``defaultSecurityRules``.

Refusals: ``SecurityRuleConflict`` (two rules with the same priority and direction),
``InUseNetworkSecurityGroupCannotBeDeleted`` (NSG still on a NIC or subnet; e.g. terraform/azure-pipelines error
dumps "Network security group X cannot be deleted because it is in use by the following resources"),
``NetworkSecurityGroupInUseByVirtualMachineScaleSet`` (AKS troubleshooting doc "Troubleshoot the
LoadBalancerInUseByVirtualMachineScaleSet or NetworkSecurityGroupInUseByVirtualMachineScaleSet error code").
"""

from __future__ import annotations

from typing import Any

from armsim.errors import ArmError
from armsim.network.common import (
    NET,
    decorate_children,
    enum_value,
    int_value,
    new_guid,
    prepare_children,
    ref,
    ref_id,
    same,
    scale_set_id,
    scale_sets_referencing,
    stored_body,
)
from armsim.provider import Ctx, Provider, registered
from armsim.store import Record, Store

NSG_TYPE = f"{NET}/networkSecurityGroups"
RULE_TYPE = f"{NSG_TYPE}/securityRules"
DEFAULT_RULE_TYPE = f"{NSG_TYPE}/defaultSecurityRules"
RULE_READONLY = frozenset({"etag", "type"})

# Azure's defaults, as every NSG GET shows them (priorities 65000-65500).
_DEFAULTS: list[tuple[str, str, str, str, str, str, int, str]] = [
    (
        "AllowVnetInBound",
        "Allow inbound traffic from all VMs in VNET",
        "VirtualNetwork",
        "VirtualNetwork",
        "Allow",
        "Inbound",
        65000,
        "*",
    ),
    (
        "AllowAzureLoadBalancerInBound",
        "Allow inbound traffic from azure load balancer",
        "AzureLoadBalancer",
        "*",
        "Allow",
        "Inbound",
        65001,
        "*",
    ),
    ("DenyAllInBound", "Deny all inbound traffic", "*", "*", "Deny", "Inbound", 65500, "*"),
    (
        "AllowVnetOutBound",
        "Allow outbound traffic from all VMs to all VMs in VNET",
        "VirtualNetwork",
        "VirtualNetwork",
        "Allow",
        "Outbound",
        65000,
        "*",
    ),
    (
        "AllowInternetOutBound",
        "Allow outbound traffic from all VMs to Internet",
        "*",
        "Internet",
        "Allow",
        "Outbound",
        65001,
        "*",
    ),
    ("DenyAllOutBound", "Deny all outbound traffic", "*", "*", "Deny", "Outbound", 65500, "*"),
]


def default_rules(nsg_id: str, etag: str | None) -> list[dict[str, Any]]:
    out = []
    for name, desc, src, dst, access, direction, prio, proto in _DEFAULTS:
        rule: dict[str, Any] = {
            "name": name,
            "id": f"{nsg_id}/defaultSecurityRules/{name}",
            "type": DEFAULT_RULE_TYPE,
            "properties": {
                "provisioningState": "Succeeded",
                "description": desc,
                "protocol": proto,
                "sourcePortRange": "*",
                "destinationPortRange": "*",
                "sourceAddressPrefix": src,
                "sourceAddressPrefixes": [],
                "destinationAddressPrefix": dst,
                "destinationAddressPrefixes": [],
                "sourcePortRanges": [],
                "destinationPortRanges": [],
                "access": access,
                "priority": prio,
                "direction": direction,
            },
        }
        if etag:
            rule["etag"] = etag
        out.append(rule)
    return out


def nsg_users(store: Store, nsg_id: str) -> tuple[list[str], list[str]]:
    """(NIC ids, subnet ids) using an NSG: its ``networkInterfaces`` and ``subnets`` back-references."""
    nics: list[str] = []
    subnets: list[str] = []
    for rec in store.referrers(nsg_id):
        props = rec.body.get("properties", {})
        if same(ref_id(props.get("networkSecurityGroup")), nsg_id) and "ipConfigurations" in props:
            nics.append(rec.id)
        if rec.type.lower() == f"{NET}/virtualNetworks".lower():
            for sn in props.get("subnets") or []:
                if same(ref_id(sn.get("properties", {}).get("networkSecurityGroup")), nsg_id):
                    subnets.append(sn.get("id") or f"{rec.id}/subnets/{sn.get('name')}")
    return nics, subnets


@registered
class NetworkSecurityGroupProvider(Provider):
    type = NSG_TYPE
    children = {"securityRules": "securityRules", "defaultSecurityRules": "defaultSecurityRules"}
    read_only_children = frozenset({"defaultSecurityRules"})

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        props = dict(body.get("properties") or {})
        old = (existing or {}).get("properties", {})
        rules = prepare_children(
            resource_id, props.get("securityRules"), "securityRules", "properties.securityRules", RULE_READONLY
        )
        seen: dict[tuple[str, int], str] = {}
        for i, rule in enumerate(rules):
            rp = rule["properties"]
            path = f"properties.securityRules[{i}].properties"
            rp["protocol"] = enum_value(
                rp.get("protocol", "*"),
                ("Tcp", "Udp", "Icmp", "Esp", "*", "Ah"),
                f"{path}.protocol",
                "SecurityRuleProtocol",
            )
            rp["access"] = enum_value(
                rp.get("access", "Allow"), ("Allow", "Deny"), f"{path}.access", "SecurityRuleAccess"
            )
            rp["direction"] = enum_value(
                rp.get("direction", "Inbound"), ("Inbound", "Outbound"), f"{path}.direction", "SecurityRuleDirection"
            )
            if "priority" not in rp:
                raise ArmError(
                    400,
                    "SecurityRuleInvalidPriority",
                    f"Security rule {rule['name']} has no priority. Priority must be between 100 and 4096.",
                )
            rp["priority"] = int_value(rp["priority"], f"{path}.priority", 100, 4096)
            for single, plural in (
                ("sourcePortRange", "sourcePortRanges"),
                ("destinationPortRange", "destinationPortRanges"),
                ("sourceAddressPrefix", "sourceAddressPrefixes"),
                ("destinationAddressPrefix", "destinationAddressPrefixes"),
            ):
                if not rp.get(single) and not rp.get(plural):
                    rp[single] = "*"
                rp.setdefault(plural, [])
            k = (rp["direction"], rp["priority"])
            if k in seen:
                raise ArmError(
                    400,
                    "SecurityRuleConflict",
                    f"Security rule {rule['name']} conflicts with rule {seen[k]}. Rules cannot have the same Priority "
                    f"and Direction. To learn more, see aka.ms/nsgrules.",
                )
            seen[k] = rule["name"]
        for ro in ("defaultSecurityRules", "networkInterfaces", "subnets", "flowLogs", "provisioningState"):
            props.pop(ro, None)
        props["securityRules"] = rules
        props["resourceGuid"] = old.get("resourceGuid") or new_guid()
        return stored_body(body, props)

    def check_delete(self, ctx: Ctx, record: Record) -> None:
        vmss = scale_sets_referencing(ctx.store, record.id)
        if vmss:
            raise ArmError(
                400,
                "NetworkSecurityGroupInUseByVirtualMachineScaleSet",
                f"Cannot delete network security group {record.id} since it is in use by virtual machine scale set "
                f"{scale_set_id(vmss[0])}.",
            )
        nics, subnets = nsg_users(ctx.store, record.id)
        if nics or subnets:
            raise ArmError(
                400,
                "InUseNetworkSecurityGroupCannotBeDeleted",
                f"Network security group {record.id} cannot be deleted because it is in use by the following "
                f"resources: {', '.join(nics + subnets)}. In order to delete the Network security group, remove the "
                f"association with the resource(s). To learn how to do this, see aka.ms/deletensg.",
            )

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        decorate_children(body, "securityRules", RULE_TYPE)
        props = body.setdefault("properties", {})
        props["defaultSecurityRules"] = default_rules(body["id"], body.get("etag"))
        nics, subnets = nsg_users(ctx.store, body["id"])
        if nics:
            props["networkInterfaces"] = [ref(n) for n in nics]
        if subnets:
            props["subnets"] = [ref(s) for s in subnets]
        return body


def nsg_exists(store: Store, nsg_id: str) -> str | None:
    rec = store.get(nsg_id)
    return rec.id if rec is not None and rec.type.lower() == NSG_TYPE.lower() else None
