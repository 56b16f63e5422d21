"""What a human operator does to the estate during the storm, through Microsoft's SDK, with its own identity.

Every action is idempotent and retried (an operator whose command failed with a 429, a 503 or a dropped connection
runs it again): creating a NIC or VM that already exists is a no-op, deleting one that is gone is done, and an edit
is a read-modify-write under ``If-Match`` that re-reads on 412 and stops once its change is present. The edits race
poolkeeper's own read-modify-writes of the same load balancer and NICs on purpose.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from poolkeeper.clients import ArmClients

T = TypeVar("T")
LOCATION = "westus"
RETRIES = 30


def retried(what: str, action: Callable[[], T], rng: random.Random) -> T:
    """Run ``action`` until it succeeds (bounded): the SDK's own retries plus the operator's patience."""
    last: Exception | None = None
    for attempt in range(RETRIES):
        try:
            return action()
        except ResourceNotFoundError:
            raise
        except Exception as err:  # 429/5xx the SDK gave up on, dropped connections, 412 on an edit, LRO failures
            last = err
            time.sleep(min(0.5, 0.02 * (attempt + 1)) * rng.uniform(0.5, 1.5))
    raise RuntimeError(f"operator action {what!r} failed {RETRIES} times: {last}") from last


class Operator:
    def __init__(self, clients: ArmClients, subscription_id: str, rng: random.Random) -> None:
        self.c = clients
        self.sub = subscription_id
        self.rng = rng

    def rid(self, rg: str, path: str) -> str:
        return f"/subscriptions/{self.sub}/resourceGroups/{rg}/providers/{path}"

    # ------------------------------------------------------------------------------------------------ estate
    def build_look_alike(self, rg: str, vms: list[str]) -> str:
        """The tutorial estate's shape (same names; Standard SKUs, as Azure creates today) in another resource group;
        returns its load balancer's id.

        The resource group itself is created by the caller (the simulator's ``az group create``); everything else
        goes through the SDK, so its events reach poolkeeper, which must ignore them.
        """
        net = self.c.network
        pip = self.rid(rg, "Microsoft.Network/publicIPAddresses/myPublicIP")
        lb_id = self.rid(rg, "Microsoft.Network/loadBalancers/myLoadBalancer")
        retried("create public IP", lambda: net.public_ip_addresses.begin_create_or_update(rg, "myPublicIP", {
            "location": LOCATION, "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}).result(), self.rng)
        retried("create vnet", lambda: net.virtual_networks.begin_create_or_update(rg, "myVnet", {
            "location": LOCATION, "properties": {
                "addressSpace": {"addressPrefixes": ["10.0.0.0/16"]},
                "subnets": [{"name": "mySubnet", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}).result(),
            self.rng)
        retried("create load balancer", lambda: net.load_balancers.begin_create_or_update(rg, "myLoadBalancer", {
            "location": LOCATION, "sku": {"name": "Standard"}, "properties": {
                "frontendIPConfigurations": [{"name": "myFrontEndPool",
                                              "properties": {"publicIPAddress": {"id": pip}}}],
                "backendAddressPools": [{"name": "myBackEndPool"}]}}).result(), self.rng)
        retried("create availability set", lambda: self.c.compute.availability_sets.create_or_update(
            rg, "myAvailabilitySet", {"location": LOCATION, "sku": {"name": "Aligned"}, "properties": {
                "platformFaultDomainCount": 2, "platformUpdateDomainCount": 2}}), self.rng)
        for i, name in enumerate(vms, start=1):
            self.create_nic(rg, f"myNic{i}", pool_lb=lb_id)
            self.create_vm(rg, name, f"myNic{i}")
        return lb_id

    def nic_body(self, rg: str, *, pool_lb: str | None = None) -> dict[str, Any]:
        subnet = self.rid(rg, "Microsoft.Network/virtualNetworks/myVnet/subnets/mySubnet")
        props: dict[str, Any] = {"subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic", "primary": True}
        if pool_lb:
            props["loadBalancerBackendAddressPools"] = [{"id": f"{pool_lb}/backendAddressPools/myBackEndPool"}]
        return {"location": LOCATION, "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": props}]}}

    def vm_body(self, rg: str, name: str, nic: str) -> dict[str, Any]:
        return {"location": LOCATION, "properties": {
            "availabilitySet": {"id": self.rid(rg, "Microsoft.Compute/availabilitySets/myAvailabilitySet")},
            "hardwareProfile": {"vmSize": "Standard_B1s"},
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer",
                                                  "sku": "14.04.4-LTS", "version": "latest"}},
            "osProfile": {"computerName": name, "adminUsername": "azureuser"},
            "networkProfile": {"networkInterfaces": [
                {"id": self.rid(rg, f"Microsoft.Network/networkInterfaces/{nic}"), "properties": {"primary": True}}]},
        }}

    def create_nic(self, rg: str, nic: str, *, pool_lb: str | None = None) -> None:
        def act() -> None:
            if not self._exists(lambda: self.c.network.network_interfaces.get(rg, nic)):
                self.c.network.network_interfaces.begin_create_or_update(rg, nic, self.nic_body(
                    rg, pool_lb=pool_lb)).result()

        retried(f"create NIC {nic}", act, self.rng)

    def create_vm(self, rg: str, name: str, nic: str) -> None:
        """``az network nic create`` (no pools: the operator forgets) then ``az vm create --nics``."""
        self.create_nic(rg, nic)

        def act() -> None:
            if not self._exists(lambda: self.c.compute.virtual_machines.get(rg, name)):
                self.c.compute.virtual_machines.begin_create_or_update(rg, name, self.vm_body(rg, name, nic)).result()

        retried(f"create VM {name}", act, self.rng)

    def delete_vm(self, rg: str, name: str) -> None:
        def act() -> None:
            if self._exists(lambda: self.c.compute.virtual_machines.get(rg, name)):
                self.c.compute.virtual_machines.begin_delete(rg, name).result()

        retried(f"delete VM {name}", act, self.rng)

    @staticmethod
    def _exists(get: Callable[[], Any]) -> bool:
        try:
            get()
            return True
        except ResourceNotFoundError:
            return False

    # ------------------------------------------------------------------------------------------------ edits
    def tag_load_balancer(self, rg: str, name: str, key: str, value: str) -> None:
        self._edit("load balancer", lambda: self.c.network.load_balancers.get(rg, name),
                   lambda body: _set_tag(body, key, value),
                   lambda body, etag: self.c.network.load_balancers.begin_create_or_update(
                       rg, name, body, headers={"If-Match": etag}).result())

    def add_nat_rule(self, rg: str, name: str, rule: str, frontend_port: int) -> None:
        """An unrelated inbound NAT rule (no backend yet), outside poolkeeper's port range."""
        lb_id = self.rid(rg, f"Microsoft.Network/loadBalancers/{name}")

        def change(body: dict[str, Any]) -> bool:
            rules = body["properties"].setdefault("inboundNatRules", [])
            if any(r["name"] == rule for r in rules):
                return False
            rules.append({"name": rule, "properties": {
                "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/myFrontEndPool"},
                "protocol": "Tcp", "frontendPort": frontend_port, "backendPort": 2222}})
            return True

        self._edit("load balancer", lambda: self.c.network.load_balancers.get(rg, name), change,
                   lambda body, etag: self.c.network.load_balancers.begin_create_or_update(
                       rg, name, body, headers={"If-Match": etag}).result())

    def tag_nic(self, rg: str, nic: str, key: str, value: str) -> None:
        self._edit("NIC", lambda: self.c.network.network_interfaces.get(rg, nic),
                   lambda body: _set_tag(body, key, value),
                   lambda body, etag: self.c.network.network_interfaces.begin_create_or_update(
                       rg, nic, body, headers={"If-Match": etag}).result())

    def _edit(self, what: str, read: Callable[[], Any], change: Callable[[dict[str, Any]], bool],
              write: Callable[[dict[str, Any], str], Any]) -> None:
        """Read-modify-write under If-Match; a 412 (poolkeeper wrote in between) re-reads and tries again."""

        def act() -> None:
            body = read().as_dict()
            etag = body.pop("etag", None)
            if not change(body):
                return
            try:
                write(body, etag)
            except HttpResponseError as err:
                if err.status_code == 412:
                    raise RuntimeError(f"lost an ETag race on the {what}; re-reading") from err
                raise
            if not change(read().as_dict()):  # our change is there (a dropped answer may hide a success)
                return
            raise RuntimeError(f"the {what} edit is not visible yet")

        retried(f"edit {what}", act, self.rng)


def _set_tag(body: dict[str, Any], key: str, value: str) -> bool:
    tags = body.setdefault("tags", {}) or {}
    body["tags"] = tags
    if tags.get(key) == value:
        return False
    tags[key] = value
    return True
