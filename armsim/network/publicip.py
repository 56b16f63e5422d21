"""Public IP addresses: an ``ipAddress`` from a fake public range and the ``ipConfiguration`` back-reference.

Refusal: ``PublicIPAddressCannotBeDeleted`` while a load-balancer frontend or NIC uses the address ("Public IP address
X can not be deleted since it is still allocated to resource Y." — ernestio/ernest#514 error dump).
"""

from __future__ import annotations

from typing import Any

from armsim.errors import ArmError
from armsim.network.common import (
    NET,
    enum_value,
    int_value,
    ip_configurations,
    new_guid,
    ref,
    ref_id,
    same,
    stored_body,
)
from armsim.network.ipam import allocate_public
from armsim.network.retirement import refuse_basic_public_ip
from armsim.provider import Ctx, Provider, registered
from armsim.store import Store

PIP_TYPE = f"{NET}/publicIPAddresses"


def pip_user(store: Store, pip_id: str) -> str | None:
    """The LB frontend or NIC ip configuration using a public IP (its ``ipConfiguration``)."""
    for rec in store.referrers(pip_id):
        for ipc_id, ipc, _nic in ip_configurations(rec):
            if same(ref_id(ipc.get("publicIPAddress")), pip_id):
                return ipc_id
        for fe in rec.body.get("properties", {}).get("frontendIPConfigurations") or []:
            if same(ref_id(fe.get("properties", {}).get("publicIPAddress")), pip_id):
                return fe.get("id") or f"{rec.id}/frontendIPConfigurations/{fe.get('name')}"
    return None


@registered
class PublicIPAddressProvider(Provider):
    type = PIP_TYPE

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        props = dict(body.get("properties") or {})
        old = (existing or {}).get("properties", {})
        sku = dict(body.get("sku") or {"name": "Basic"})
        sku["name"] = enum_value(sku.get("name", "Basic"), ("Basic", "Standard"), "sku.name", "PublicIPAddressSkuName")
        sku["tier"] = enum_value(
            sku.get("tier", "Regional"), ("Regional", "Global"), "sku.tier", "PublicIPAddressSkuTier"
        )
        default_method = "Static" if sku["name"] == "Standard" else "Dynamic"
        props["publicIPAllocationMethod"] = enum_value(
            props.get("publicIPAllocationMethod") or default_method,
            ("Static", "Dynamic"),
            "properties.publicIPAllocationMethod",
            "IPAllocationMethod",
        )
        if sku["name"] == "Standard" and props["publicIPAllocationMethod"] != "Static":
            raise ArmError(
                400,
                "StandardSkuPublicIPAddressesMustBeStatic",
                f"Standard sku publicIP addresses must be allocated using Static allocation method ({resource_id}).",
            )
        props["publicIPAddressVersion"] = enum_value(
            props.get("publicIPAddressVersion") or "IPv4",
            ("IPv4", "IPv6"),
            "properties.publicIPAddressVersion",
            "IPVersion",
        )
        refuse_basic_public_ip(ctx, resource_id, sku["name"], props["publicIPAddressVersion"], existing is None)
        props["idleTimeoutInMinutes"] = int_value(
            props.get("idleTimeoutInMinutes", 4), "properties.idleTimeoutInMinutes", 4, 30
        )
        props.setdefault("ipTags", [])
        for ro in ("ipConfiguration", "provisioningState", "natGateway", "linkedPublicIPAddress"):
            props.pop(ro, None)
        # The address is the server's: keep the one allocated, whatever a client echoes back.
        props["ipAddress"] = old.get("ipAddress") or allocate_public(ctx.store)
        dns = props.get("dnsSettings")
        if isinstance(dns, dict) and dns.get("domainNameLabel"):
            location = body.get("location") or (existing or {}).get("location", "westus")
            props["dnsSettings"] = {
                "domainNameLabel": dns["domainNameLabel"],
                "fqdn": f"{dns['domainNameLabel']}.{str(location).replace(' ', '').lower()}.cloudapp.azure.com",
            }
        props["resourceGuid"] = old.get("resourceGuid") or new_guid()
        return stored_body(body, props, sku=sku)

    def check_delete(self, ctx: Ctx, record: Any) -> None:
        user = pip_user(ctx.store, record.id)
        if user:
            raise ArmError(
                400,
                "PublicIPAddressCannotBeDeleted",
                f"Public IP address {record.id} can not be deleted since it is still allocated to resource {user}. "
                f"In order to delete the public IP, disassociate/detach the Public IP address from the resource. "
                f"To learn how to do this, see aka.ms/deletepublicip.",
            )

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        user = pip_user(ctx.store, body["id"])
        if user:
            body["properties"]["ipConfiguration"] = ref(user)
        return body
