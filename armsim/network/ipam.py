"""Address allocation: private addresses from a subnet's prefix, public addresses from a fake public range.

Azure reserves the first four addresses and the last address of every subnet, so the first NIC in 10.0.0.0/24
gets 10.0.0.4 (as in every published example). Allocation is lowest-free, so estates are reproducible.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError
from armsim.network.common import NET, ip_configurations, ref_id, same

if TYPE_CHECKING:
    from armsim.store import Store

PUBLIC_RANGE = ipaddress.ip_network("20.62.0.0/16")  # fake: stands for Azure's public ranges


def parse_prefix(prefix: Any, where: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(str(prefix), strict=True)
    except ValueError as err:
        raise ArmError(
            400,
            "InvalidCIDRNotation",
            f"The address prefix {prefix} in resource {where} has an invalid CIDR notation. For the given prefix "
            f"length, the address prefix should be the network address ({err}).",
        ) from err


def subnet_prefix(store: Store, subnet_id: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    vnet = store.get(ids.parent_id(subnet_id))
    if vnet is None:
        return None
    for sn in vnet.body.get("properties", {}).get("subnets") or []:
        if str(sn.get("name", "")).lower() == ids.name_of(subnet_id).lower():
            p = sn.get("properties", {})
            prefix = p.get("addressPrefix") or (p.get("addressPrefixes") or [None])[0]
            return ipaddress.ip_network(prefix) if prefix else None
    return None


def subnet_exists(store: Store, subnet_id: str) -> bool:
    vnet = store.get(ids.parent_id(subnet_id))
    if vnet is None or vnet.type.lower() != f"{NET}/virtualNetworks".lower():
        return False
    return any(
        str(sn.get("name", "")).lower() == ids.name_of(subnet_id).lower()
        for sn in vnet.body.get("properties", {}).get("subnets") or []
    )


def used_private_ips(store: Store, subnet_id: str, exclude: str) -> set[str]:
    """Addresses already taken in a subnet by NIC ip configurations and load-balancer frontends (except ``exclude``)."""
    used: set[str] = set()
    ex = ids.key(exclude)
    for rec in store.referrers(subnet_id):
        if ids.key(rec.id) == ex:
            continue
        for _id, ipc, _nic in ip_configurations(rec):
            if same(ref_id(ipc.get("subnet")), subnet_id) and ipc.get("privateIPAddress"):
                used.add(str(ipc["privateIPAddress"]).split("/")[0])
        for fe in rec.body.get("properties", {}).get("frontendIPConfigurations") or []:
            fp = fe.get("properties", {})
            if same(ref_id(fp.get("subnet")), subnet_id) and fp.get("privateIPAddress"):
                used.add(str(fp["privateIPAddress"]))
    return used


def allocate_private(store: Store, subnet_id: str, exclude: str, taken: set[str], where: str) -> str:
    net = subnet_prefix(store, subnet_id)
    if net is None:
        raise ArmError(
            400, "InvalidResourceReference", f"Subnet {subnet_id} referenced by resource {where} was not found."
        )
    used = used_private_ips(store, subnet_id, exclude) | taken
    hosts = list(net.hosts()) if net.num_addresses <= 65536 else None
    candidates = hosts[3:-1] if hosts else []  # .1-.3 and the last usable address are reserved by Azure
    for addr in candidates:
        if str(addr) not in used:
            return str(addr)
    raise ArmError(
        400,
        "SubnetIsFull",
        f"Subnet {ids.name_of(subnet_id)} with address prefix {net} does not have enough capacity for 1 IP address.",
    )


def check_static_private(store: Store, subnet_id: str, address: Any, exclude: str, taken: set[str], where: str) -> str:
    net = subnet_prefix(store, subnet_id)
    try:
        addr = ipaddress.ip_address(str(address))
    except ValueError as err:
        raise ArmError(400, "InvalidRequestFormat", f"'{address}' in {where} is not a valid IP address.") from err
    if net is not None and addr not in net:
        raise ArmError(
            400,
            "PrivateIPAddressNotInSubnet",
            f"IP configuration {where} is referencing a private IP address {addr} which is not in the subnet "
            f"{subnet_id} address range {net}.",
        )
    if str(addr) in used_private_ips(store, subnet_id, exclude) | taken:
        raise ArmError(
            400,
            "PrivateIPAddressInUse",
            f"IP configuration {where} is using the private IP address {addr} which is already allocated to "
            f"another resource in subnet {subnet_id}.",
        )
    return str(addr)


def allocate_public(store: Store) -> str:
    used = {
        str(r.body.get("properties", {}).get("ipAddress"))
        for r in store.of_type(f"{NET}/publicIPAddresses")
        if r.body.get("properties", {}).get("ipAddress")
    }
    for addr in list(PUBLIC_RANGE.hosts())[3:]:
        if str(addr) not in used:
            return str(addr)
    raise ArmError(400, "PublicIPCountLimitReached", "armsim's fake public range is exhausted.")
