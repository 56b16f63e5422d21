"""poolkeeper running for real: armsim (tutorial estate) → Event Grid → ``poolkeeper serve``'s webhook → ARM."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from armsim.eventgrid.testing import WebhookReceiver
from poolkeeper_local.eventgrid_setup import subscribe_webhook
from poolkeeper_local.localrun import LocalRun
from poolkeeper_local.localrun import tutorial_config as localrun_tutorial_config
from tests.conftest import FAST, SimHandle

RG = "myTutorial8"


class Poolkeeper:
    """A running ``poolkeeper serve`` wired to a simulator's Event Grid (a ``LocalRun``), plus test helpers."""

    def __init__(self, run: LocalRun, recorder: WebhookReceiver) -> None:
        self.run = run
        self.sim = SimHandle(run.sim)
        self.host = run.host
        self.operator = run.operator  # clients acting as a human operator (a different identity from poolkeeper's)
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
        return self.run.poolkeeper_object_id()

    def flush_events(self, timeout: float = 30.0) -> None:
        self.sim.control("POST", "eventgrid/flush", {"timeout": timeout})


@pytest.fixture
def poolkeeper_factory() -> Iterator[Callable[..., Poolkeeper]]:
    started: list[Any] = []

    def start(*, config: dict[str, Any] | None = None, scenario: str = "tutorial", function_key: str | None = None,
              time_scale: float = FAST, throttle: bool = False) -> Poolkeeper:
        run = LocalRun(scenario=scenario, time_scale=time_scale, throttle=throttle, config=config,
                       function_key=function_key).__enter__()
        started.append(run)
        recorder = WebhookReceiver().start()
        started.append(recorder)
        subscribe_webhook(ManagedIdentityCredential(), run.info.arm_endpoint, run.info.subscription_id, RG,
                          recorder.url, name="recorder", verify=run.info.ca_bundle)
        pk = Poolkeeper(run, recorder)
        pk.sim.reset_log()
        return pk

    yield start
    for item in reversed(started):
        item.stop() if isinstance(item, WebhookReceiver) else item.__exit__(None, None, None)


@pytest.fixture
def reconciled(poolkeeper_factory: Callable[..., Poolkeeper]) -> Poolkeeper:
    """poolkeeper on the tutorial estate after a first reconcile whose events were delivered (myVM1..3 wired)."""
    pk = poolkeeper_factory()
    assert pk.post("reconcile", {}).status_code == 200
    pk.flush_events()
    return pk


def tutorial_config(sim: SimHandle, **binding_overrides: Any) -> dict[str, Any]:
    return localrun_tutorial_config(sim.info, RG, **binding_overrides)


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
