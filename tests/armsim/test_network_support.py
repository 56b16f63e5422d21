"""Helpers shared by the network tests (no tests here): a small estate built through raw ARM calls."""

from __future__ import annotations

import time
from typing import Any

import requests

from tests.conftest import SimHandle

API = "2024-07-01"


def instant(h: SimHandle) -> None:
    """Network operations complete at once (refusal tests do not need to wait for long-running operations)."""
    h.control("POST", "config", {"durations": {"network.put": 0, "network.delete": 0}})


def wait_op(h: SimHandle, resp: requests.Response, timeout: float = 10.0) -> None:
    """Poll an operation's Azure-AsyncOperation / Location URL until it is no longer running."""
    url = resp.headers.get("Azure-AsyncOperation") or resp.headers.get("Location")
    if not url:
        return
    deadline = time.monotonic() + timeout
    path = "/" + url.split("/", 3)[3]
    while time.monotonic() < deadline:
        r = h.arm("GET", path, api_version="")
        if r.status_code == 200 and (r.text == "" or r.json() is None or r.json().get("status") != "InProgress"):
            return
        time.sleep(0.01)
    raise AssertionError(f"operation {url} did not finish")


def put(h: SimHandle, path: str, body: dict[str, Any], expect: int | None = None, **kw: Any) -> requests.Response:
    resp = h.arm("PUT", path, body, api_version=API, **kw)
    if expect is not None:
        assert resp.status_code == expect, resp.text
    if resp.status_code < 300:
        wait_op(h, resp)
    return resp


def seed(h: SimHandle, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create or update a resource through armsim's seeding path (``Engine.internal_put``), as scenarios do.

    The only way to build what Azure no longer lets anyone create — Basic SKU public IPs and load balancers, inbound
    NAT pools — for tests about existing legacy estates. Everything else is validated as for an ARM request; a
    refusal raises ``ArmError``.
    """
    return h.sim.call(lambda: h.engine.internal_put(path, body))  # type: ignore[no-any-return]


def get(h: SimHandle, path: str) -> dict[str, Any]:
    resp = h.arm("GET", path, api_version=API)
    assert resp.status_code == 200, resp.text
    return resp.json()


class Estate:
    """Paths and builders for one resource group: a vnet with two subnets, an NSG, public IPs, LBs and NICs."""

    def __init__(self, h: SimHandle, rg: str = "rg1", location: str = "westus") -> None:
        self.h = h
        self.rg = rg
        self.location = location
        self.sub = h.subscription_id
        self.net = f"/subscriptions/{self.sub}/resourceGroups/{rg}/providers/Microsoft.Network"
        h.arm("PUT", f"/subscriptions/{self.sub}/resourcegroups/{rg}", {"location": location}, api_version="2021-04-01")

    def path(self, rel: str) -> str:
        return f"{self.net}/{rel}"

    def lb_path(self, lb: str = "lb", child: str = "") -> str:
        return self.path(f"loadBalancers/{lb}" + (f"/{child}" if child else ""))

    def vnet(self, name: str = "vnet", prefix: str = "10.0.0.0/16", subnets: dict[str, str] | None = None) -> str:
        subnets = subnets or {"default": "10.0.0.0/24", "other": "10.0.1.0/24"}
        put(
            self.h,
            self.path(f"virtualNetworks/{name}"),
            {
                "location": self.location,
                "properties": {
                    "addressSpace": {"addressPrefixes": [prefix]},
                    "subnets": [{"name": n, "properties": {"addressPrefix": p}} for n, p in subnets.items()],
                },
            },
            expect=201,
        )
        return self.path(f"virtualNetworks/{name}")

    def subnet(self, vnet: str = "vnet", name: str = "default") -> str:
        return self.path(f"virtualNetworks/{vnet}/subnets/{name}")

    def pip(self, name: str = "pip", sku: str = "Standard") -> str:
        """A public IP; a Basic one (retired: ARM refuses new ones) is seeded as an existing legacy resource."""
        body = {
            "location": self.location,
            "sku": {"name": sku},
            "properties": {"publicIPAllocationMethod": "Static" if sku == "Standard" else "Dynamic"},
        }
        if sku == "Basic":
            seed(self.h, self.path(f"publicIPAddresses/{name}"), body)
        else:
            put(self.h, self.path(f"publicIPAddresses/{name}"), body, expect=201)
        return self.path(f"publicIPAddresses/{name}")

    def lb_body(
        self, lb: str = "lb", sku: str = "Standard", pip: str | None = None, **collections: Any
    ) -> dict[str, Any]:
        fe_props = {"publicIPAddress": {"id": pip}} if pip else {"subnet": {"id": self.subnet()}}
        props: dict[str, Any] = {
            "frontendIPConfigurations": [{"name": "fe", "properties": fe_props}],
            "backendAddressPools": [{"name": "pool"}],
        }
        props.update(collections)
        return {"location": self.location, "sku": {"name": sku}, "properties": props}

    def ref(self, lb: str, coll: str, name: str) -> dict[str, str]:
        return {"id": self.lb_path(lb, f"{coll}/{name}")}

    def rule(
        self,
        name: str,
        lb: str = "lb",
        port: int = 80,
        backend: int | None = None,
        probe: str | None = None,
        pool: str = "pool",
        **extra: Any,
    ) -> dict[str, Any]:
        props: dict[str, Any] = {
            "protocol": "Tcp",
            "frontendPort": port,
            "backendPort": backend if backend is not None else port,
            "frontendIPConfiguration": self.ref(lb, "frontendIPConfigurations", "fe"),
            "backendAddressPool": self.ref(lb, "backendAddressPools", pool),
        }
        if probe:
            props["probe"] = self.ref(lb, "probes", probe)
        props.update(extra)
        return {"name": name, "properties": props}

    def nat_rule(
        self, name: str, port: int, lb: str = "lb", backend: int = 22, protocol: str = "Tcp"
    ) -> dict[str, Any]:
        return {
            "name": name,
            "properties": {
                "protocol": protocol,
                "frontendPort": port,
                "backendPort": backend,
                "frontendIPConfiguration": self.ref(lb, "frontendIPConfigurations", "fe"),
            },
        }

    def nat_rule_v2(self, name: str, start: int, end: int, backend: int, lb: str = "lb",
                    pool: str = "pool") -> dict[str, Any]:
        """A NAT rule V2: a NAT pool's frontend port range (``start``..``end``), over backend pool ``pool``."""
        rule = self.nat_pool(name, start, end, lb, backend)
        rule["properties"]["backendAddressPool"] = self.ref(lb, "backendAddressPools", pool)
        return rule

    def nat_pool(self, name: str, start: int, end: int, lb: str = "lb", backend: int = 22) -> dict[str, Any]:
        return {
            "name": name,
            "properties": {
                "protocol": "Tcp",
                "frontendPortRangeStart": start,
                "frontendPortRangeEnd": end,
                "backendPort": backend,
                "frontendIPConfiguration": self.ref(lb, "frontendIPConfigurations", "fe"),
            },
        }

    def lb(self, lb: str = "lb", expect: int | None = 201, **kw: Any) -> requests.Response:
        return put(self.h, self.lb_path(lb), self.lb_body(lb, **kw), expect=expect)

    def seed_lb(self, lb: str = "lb", **kw: Any) -> dict[str, Any]:
        """A load balancer that exists already (Basic SKU or with NAT pools: what ARM no longer creates)."""
        return seed(self.h, self.lb_path(lb), self.lb_body(lb, **kw))

    def nic_body(
        self,
        subnet: str | None = None,
        pools: list[str] | None = None,
        nat_rules: list[str] | None = None,
        ipconfig: str = "ipconfig1",
        **props: Any,
    ) -> dict[str, Any]:
        ipc: dict[str, Any] = {"subnet": {"id": subnet or self.subnet()}}
        if pools is not None:
            ipc["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
        if nat_rules is not None:
            ipc["loadBalancerInboundNatRules"] = [{"id": r} for r in nat_rules]
        return {
            "location": self.location,
            "properties": {"ipConfigurations": [{"name": ipconfig, "properties": ipc}], **props},
        }

    def nic(self, name: str, expect: int | None = 201, **kw: Any) -> requests.Response:
        return put(self.h, self.path(f"networkInterfaces/{name}"), self.nic_body(**kw), expect=expect)


def error_code(resp: requests.Response) -> str:
    return resp.json()["error"]["code"]
