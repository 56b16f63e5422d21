"""Virtual networks and their subnets (child endpoint ``subnets``).

Refusals (Azure's codes): ``InUseSubnetCannotBeDeleted`` when a NIC or load-balancer frontend still sits in a subnet
being removed (code listed among ARM/RP error codes in Azure SDK error enums; "Subnet X is in use by Y and cannot be
deleted"); ``NetcfgSubnetRangeOutsideVnet`` / ``NetcfgSubnetRangesOverlap`` for prefixes outside the address space or
overlapping each other; ``InvalidCIDRNotation`` for a malformed prefix.
"""

from __future__ import annotations

from typing import Any

from armsim import ids
from armsim.errors import ArmError
from armsim.network.common import (
    NET,
    decorate_children,
    invalid_reference,
    ipconfigs_referencing,
    new_guid,
    prepare_children,
    ref,
    ref_id,
    same,
    stored_body,
)
from armsim.network.ipam import parse_prefix
from armsim.provider import Ctx, Provider, registered
from armsim.store import Record, Store

VNET_TYPE = f"{NET}/virtualNetworks"
SUBNET_TYPE = f"{VNET_TYPE}/subnets"
SUBNET_READONLY = frozenset(
    {
        "ipConfigurations",
        "ipConfigurationProfiles",
        "resourceNavigationLinks",
        "serviceAssociationLinks",
        "purpose",
        "privateEndpoints",
        "etag",
        "type",
    }
)


def subnet_users(store: Store, subnet_id: str) -> list[str]:
    """Ids of the ip configurations and load-balancer frontends that sit in a subnet (its ``ipConfigurations``)."""
    out = [ipc_id for ipc_id, _p, _r in ipconfigs_referencing(store, subnet_id, "subnet")]
    for rec in store.referrers(subnet_id):
        for fe in rec.body.get("properties", {}).get("frontendIPConfigurations") or []:
            if same(ref_id(fe.get("properties", {}).get("subnet")), subnet_id):
                out.append(fe.get("id") or f"{rec.id}/frontendIPConfigurations/{fe.get('name')}")
    return out


@registered
class VirtualNetworkProvider(Provider):
    type = VNET_TYPE
    children = {"subnets": "subnets"}

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        props = dict(body.get("properties") or {})
        old = (existing or {}).get("properties", {})
        space = props.get("addressSpace") or {}
        prefixes = space.get("addressPrefixes") if isinstance(space, dict) else None
        if not prefixes:
            raise ArmError(
                400,
                "InvalidRequestFormat",
                f"Virtual network {resource_id} needs properties.addressSpace.addressPrefixes (e.g. ['10.0.0.0/16']).",
            )
        nets = [parse_prefix(p, resource_id) for p in prefixes]
        subnets = prepare_children(resource_id, props.get("subnets"), "subnets", "properties.subnets", SUBNET_READONLY)
        ranges: list[tuple[str, Any]] = []
        for sn in subnets:
            sp = sn["properties"]
            sid = sn["id"]
            raw = sp.get("addressPrefix") or (sp.get("addressPrefixes") or [None])[0]
            if not raw:
                raise ArmError(400, "InvalidRequestFormat", f"Subnet {sid} needs properties.addressPrefix.")
            net = parse_prefix(raw, sid)
            if not any(net.version == n.version and net.subnet_of(n) for n in nets):  # type: ignore[arg-type]
                raise ArmError(
                    400,
                    "NetcfgSubnetRangeOutsideVnet",
                    f"Subnet '{sn['name']}' is not valid because its IP address range is outside the IP address range "
                    f"of virtual network '{ids.name_of(resource_id)}'.",
                )
            for other_name, other in ranges:
                if net.version == other.version and net.overlaps(other):
                    raise ArmError(
                        400,
                        "NetcfgSubnetRangesOverlap",
                        f"Subnet '{sn['name']}' is not valid because its IP address range overlaps with that of an "
                        f"other subnet '{other_name}' in the same virtual network.",
                    )
            ranges.append((sn["name"], net))
            nsg = ref_id(sp.get("networkSecurityGroup"))
            if nsg is not None:
                if ctx.store.get(nsg) is None:
                    raise invalid_reference(nsg, sid)
                sp["networkSecurityGroup"] = ref(ctx.store.get(nsg).id)  # type: ignore[union-attr]
            sp.setdefault("privateEndpointNetworkPolicies", "Disabled")
            sp.setdefault("privateLinkServiceNetworkPolicies", "Enabled")
            sp.setdefault("delegations", [])
        kept = {sn["name"].lower() for sn in subnets}
        for sn in old.get("subnets") or []:
            if sn["name"].lower() not in kept:
                users = subnet_users(ctx.store, sn["id"])
                if users:
                    raise in_use_subnet(sn["name"], users)
        props["subnets"] = subnets
        props["addressSpace"] = {"addressPrefixes": list(prefixes)}
        props["resourceGuid"] = old.get("resourceGuid") or new_guid()
        props.setdefault("virtualNetworkPeerings", [])
        props.setdefault("enableDdosProtection", False)
        props.pop("provisioningState", None)
        return stored_body(body, props)

    def check_delete(self, ctx: Ctx, record: Record) -> None:
        for sn in record.body.get("properties", {}).get("subnets") or []:
            users = subnet_users(ctx.store, sn["id"])
            if users:
                raise in_use_subnet(sn["name"], users)

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        decorate_children(body, "subnets", SUBNET_TYPE)
        for sn in body.get("properties", {}).get("subnets") or []:
            users = subnet_users(ctx.store, sn["id"])
            if users:
                sn["properties"]["ipConfigurations"] = [ref(u) for u in users]
        return body


def in_use_subnet(name: str, users: list[str]) -> ArmError:
    return ArmError(
        400,
        "InUseSubnetCannotBeDeleted",
        f"Subnet {name} is in use by {users[0]} and cannot be deleted. In order to delete the subnet, delete all the "
        f"resources within the subnet. See aka.ms/deletesubnet.",
    )
