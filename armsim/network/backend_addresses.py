"""A backend pool's ``loadBalancerBackendAddresses``: IP-based members as written, NIC members as NRP lists them,
and the admin state of each.

- NRP lists every member of a pool in ``loadBalancerBackendAddresses``; a NIC-based member carries the read-only
  ``networkInterfaceIPConfiguration`` reference (LoadBalancerBackendAddressPropertiesFormat in
  specification/network/resource-manager/Microsoft.Network/stable/2024-07-01/loadBalancer.json). The name NRP gives
  such an entry is not documented; armsim's (the ip configuration id's names joined by ``_``) is UNCONFIRMED.
- ``adminState`` (same definition; enum None, Up, Down): overrides the health probe for new connections of
  load-balancing rules. Microsoft Learn, "Administrative State (Admin State) in Azure Load Balancer": available on
  the Standard SKU only, and it does not apply to inbound NAT rules (no data plane here, so that part is a note).
  Setting Up or Down on a Basic load balancer is refused with ``AdminStateNotSupportedOnBasicSkuLoadBalancer``,
  an UNCONFIRMED code (no public error body found). A NIC member's admin state is kept in the stored pool (an entry
  holding only the reference and the state) and shown on its computed entry.
"""

from __future__ import annotations

from typing import Any

from armsim import ids
from armsim.errors import ArmError
from armsim.network.common import ref, ref_id

ADMIN_STATES = ("None", "Up", "Down")


def check_admin_state(lb_id: str, sku: str, state: str) -> None:
    if state != "None" and sku != "Standard":
        raise ArmError(
            400,
            "AdminStateNotSupportedOnBasicSkuLoadBalancer",
            f"Load balancer {lb_id} is a {sku} SKU load balancer: admin state {state} on a backend address needs a "
            f"Standard SKU load balancer.",
        )


def member_entry_name(ipconfig_id: str) -> str:
    p = ids.parse(ipconfig_id)
    return "_".join(p.names) if p is not None else ids.name_of(ipconfig_id)


def render_backend_addresses(pool: dict[str, Any], members: list[str]) -> list[dict[str, Any]]:
    """The pool's addresses as NRP answers them: the IP-based ones stored, then one entry per NIC member."""
    stored = pool.get("properties", {}).get("loadBalancerBackendAddresses") or []
    admin: dict[str, tuple[str, str]] = {}  # ip configuration key -> (entry name, admin state)
    out: list[dict[str, Any]] = []
    for addr in stored:
        ap = addr.get("properties") or {}
        member = ref_id(ap.get("networkInterfaceIPConfiguration"))
        if member is not None and not ap.get("ipAddress"):
            admin[ids.key(member)] = (addr["name"], ap.get("adminState", "None"))
        else:
            out.append(addr)
    for ipc in members:
        name, state = admin.get(ids.key(ipc), (member_entry_name(ipc), None))
        props: dict[str, Any] = {"networkInterfaceIPConfiguration": ref(ipc)}
        if state is not None:
            props["adminState"] = state
        out.append({"name": name, "properties": props})
    return out
