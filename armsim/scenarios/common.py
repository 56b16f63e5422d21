"""The seeding steps every scenario repeats: a resource group and the ids under it, a virtual network with its
subnets, public IP addresses, and a PUT in the group's location.

One place writes them (``Engine.internal_put``, so armsim's own validation runs), so the scenarios (storm,
violations, fleet, vmss_natpool) state only what differs: names, prefixes, SKUs and their own resources' bodies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from armsim.engine import Engine


@dataclass(frozen=True)
class Estate:
    """One resource group being seeded: the ids under it, and PUTs that give every body the group's location."""

    engine: Engine
    location: str
    providers: str  # /subscriptions/{sub}/resourceGroups/{rg}/providers: the stem of every resource id in the group

    @classmethod
    def create(cls, engine: Engine, resource_group: str, location: str) -> Estate:
        """Create the resource group (an existing one is kept) and seed into it."""
        engine.ensure_resource_group(resource_group, location)
        group = f"/subscriptions/{engine.subscription_id}/resourceGroups/{resource_group}"
        return cls(engine, location, f"{group}/providers")

    @property
    def network(self) -> str:
        """The stem of the group's Microsoft.Network ids."""
        return f"{self.providers}/Microsoft.Network"

    def put(self, resource_id: str, body: Mapping[str, Any]) -> str:
        """Create ``resource_id`` from ``body`` (its location is the group's); returns the id."""
        self.engine.internal_put(resource_id, {"location": self.location, **body})
        return resource_id

    def vnet(self, name: str, address_prefix: str, subnets: Mapping[str, str]) -> str:
        """Virtual network ``name`` with address space ``address_prefix`` and ``subnets`` (name → prefix); its id."""
        return self.put(f"{self.network}/virtualNetworks/{name}", {"properties": {
            "addressSpace": {"addressPrefixes": [address_prefix]},
            "subnets": [{"name": sub, "properties": {"addressPrefix": prefix}} for sub, prefix in subnets.items()]}})

    def public_ip(self, name: str, *, sku: str = "Standard") -> str:
        """Public IP ``name`` (its id): Standard ones Static, Basic ones Dynamic, as the scenarios seed them."""
        allocation = "Static" if sku == "Standard" else "Dynamic"
        return self.put(f"{self.network}/publicIPAddresses/{name}", {
            "sku": {"name": sku}, "properties": {"publicIPAllocationMethod": allocation}})
