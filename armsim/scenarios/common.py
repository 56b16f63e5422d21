"""The seeding steps every scenario repeats: a virtual network with its subnets and a public IP address.

One place writes their ARM bodies (``Engine.internal_put``, so armsim's own validation runs), so the scenarios
(storm, violations, fleet, vmss_natpool) state only what differs: names, prefixes, SKUs.
"""

from __future__ import annotations

from collections.abc import Mapping

from armsim.engine import Engine


def put_vnet(engine: Engine, vnet_id: str, location: str, address_prefix: str,
             subnets: Mapping[str, str]) -> None:
    """Create virtual network ``vnet_id`` with address space ``address_prefix`` and ``subnets`` (name → prefix)."""
    engine.internal_put(vnet_id, {"location": location, "properties": {
        "addressSpace": {"addressPrefixes": [address_prefix]},
        "subnets": [{"name": name, "properties": {"addressPrefix": prefix}} for name, prefix in subnets.items()]}})


def put_public_ip(engine: Engine, pip_id: str, location: str, *, sku: str = "Standard") -> None:
    """Create public IP ``pip_id``: Standard addresses are Static, Basic ones Dynamic (as the scenarios seed them)."""
    allocation = "Static" if sku == "Standard" else "Dynamic"
    engine.internal_put(pip_id, {"location": location, "sku": {"name": sku},
                                 "properties": {"publicIPAllocationMethod": allocation}})
