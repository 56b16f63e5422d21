"""poolkeeper running for real: armsim (tutorial estate) → Event Grid → ``poolkeeper serve``'s webhook → ARM."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from armsim.eventgrid.testing import WebhookReceiver
from poolkeeper.clients import ArmClients, make_clients
from poolkeeper.eventgrid_setup import subscribe_webhook
from tests.conftest import SimHandle

POOLKEEPER_CLIENT_ID = "poolkeeper-test-identity"
RG = "myTutorial8"


def tutorial_config(sim: SimHandle, **binding_overrides: Any) -> dict[str, Any]:
    rg_id = f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}"
    binding = {
        "name": "web",
        "match": {"availabilitySet": "myAvailabilitySet"},
        "loadBalancer": f"{rg_id}/providers/Microsoft.Network/loadBalancers/myLoadBalancer",
        "backendPool": "myBackEndPool",
        "natRule": {"backendPort": 22, "protocol": "Tcp", "frontendIpConfiguration": "myFrontEndPool",
                    "frontendPortRange": [50001, 50099]},
    }
    binding.update(binding_overrides)
    return {"scopes": [rg_id], "armEndpoint": sim.info.arm_endpoint, "bindings": [binding]}


class Poolkeeper:
    """A running ``poolkeeper serve`` (the local Functions host) wired to a simulator's Event Grid."""

    def __init__(self, sim: SimHandle, host: Any, operator: ArmClients, recorder: WebhookReceiver) -> None:
        self.sim = sim
        self.host = host
        self.operator = operator  # clients acting as a human operator (a different identity from poolkeeper's)
        self.recorder = recorder  # a second webhook that records every event Event Grid delivers

    @property
    def url(self) -> str:
        return self.host.base_url

    def post(self, route: str, body: Any = None, **params: Any) -> requests.Response:
        return requests.post(f"{self.url}/api/{route}", json=body, params=params, timeout=120)

    def writes(self) -> list[dict[str, Any]]:
        return [e for e in self.sim.requests_log() if e["kind"] != "read" and e["status"] < 300]

    def writes_by(self, principal: str) -> list[dict[str, Any]]:
        return [e for e in self.writes() if e.get("principal") == principal]

    def poolkeeper_oid(self) -> str:
        return self.sim.control("GET", f"identity?client_id={POOLKEEPER_CLIENT_ID}")["oid"]

    def flush_events(self, timeout: float = 30.0) -> None:
        self.sim.control("POST", "eventgrid/flush", {"timeout": timeout})


@pytest.fixture
def poolkeeper_factory(armsim_factory: Callable[..., SimHandle], monkeypatch: pytest.MonkeyPatch
                       ) -> Iterator[Callable[..., Poolkeeper]]:
    started: list[Any] = []

    def start(*, config: dict[str, Any] | None = None, scenario: str = "tutorial", function_key: str | None = None,
              **sim_kwargs: Any) -> Poolkeeper:
        sim = armsim_factory(scenario=scenario, **sim_kwargs)
        monkeypatch.setenv("AZURE_CLIENT_ID", POOLKEEPER_CLIENT_ID)
        monkeypatch.setenv("POOLKEEPER_CONFIG", json.dumps(config or tutorial_config(sim)))
        import function_app
        from handlers import runtime
        from poolkeeper.host import LocalHost

        runtime.reset()
        host = LocalHost(function_app.app, port=0, timers=False, function_key=function_key).start()
        started.append(host)
        operator_cred = ManagedIdentityCredential()
        subscribe_webhook(operator_cred, sim.info.arm_endpoint, sim.subscription_id, RG,
                          host.eventgrid_url("on_resource_event"), verify=sim.info.ca_bundle)
        recorder = WebhookReceiver().start()
        started.append(recorder)
        subscribe_webhook(operator_cred, sim.info.arm_endpoint, sim.subscription_id, RG, recorder.url,
                          name="recorder", verify=sim.info.ca_bundle)
        operator = make_clients(sim.subscription_id, sim.info.arm_endpoint, operator_cred)
        sim.reset_log()
        return Poolkeeper(sim, host, operator, recorder)

    yield start
    from handlers import runtime

    for item in started:
        item.stop()
    runtime.reset()


def nic_body(sim: SimHandle, name: str, *, pool: bool = False) -> dict[str, Any]:
    rg_id = f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}"
    subnet = f"{rg_id}/providers/Microsoft.Network/virtualNetworks/myVnet/subnets/mySubnet"
    props: dict[str, Any] = {"subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic", "primary": True}
    if pool:
        props["loadBalancerBackendAddressPools"] = [
            {"id": f"{rg_id}/providers/Microsoft.Network/loadBalancers/myLoadBalancer/backendAddressPools/"
                   "myBackEndPool"}
        ]
    return {"location": "westus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": props}]}}


def vm_body(sim: SimHandle, name: str, nic: str, *, availability_set: str | None = "myAvailabilitySet",
            tags: dict[str, str] | None = None) -> dict[str, Any]:
    rg_id = f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}"
    props: dict[str, Any] = {
        "hardwareProfile": {"vmSize": "Standard_B1s"},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer",
                                              "sku": "14.04.4-LTS", "version": "latest"}},
        "osProfile": {"computerName": name, "adminUsername": "azureuser"},
        "networkProfile": {"networkInterfaces": [
            {"id": f"{rg_id}/providers/Microsoft.Network/networkInterfaces/{nic}", "properties": {"primary": True}}]},
    }
    if availability_set:
        props["availabilitySet"] = {"id": f"{rg_id}/providers/Microsoft.Compute/availabilitySets/{availability_set}"}
    body: dict[str, Any] = {"location": "westus", "properties": props}
    if tags:
        body["tags"] = tags
    return body
