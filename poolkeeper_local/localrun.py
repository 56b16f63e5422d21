"""poolkeeper running locally against armsim: the simulator, the local Functions host, and Event Grid between them.

One place for what the demo, the end-to-end tests and the benchmarks all need: start armsim with a scenario, point
the process's Azure environment at it, run ``function_app`` on the local host as poolkeeper's own (user-assigned)
identity, and subscribe the host's Event Grid webhook to armsim's ARM events — as an operator would, with a
different identity (so requests are attributable in armsim's log; poolkeeper recognises its own writes in the events
by correlation id, not by identity — see ``poolkeeper.correlation``).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

import requests
from azure.identity import ManagedIdentityCredential

from armsim import ConnectionInfo, Simulator
from poolkeeper.clients import ArmClients, make_clients
from poolkeeper.settings import CLIENT_ID_VAR, CONFIG_VAR, LOG_LEVEL_VAR
from poolkeeper_local.eventgrid_setup import subscribe_webhook

POOLKEEPER_CLIENT_ID = "poolkeeper-local-identity"  # poolkeeper's simulated user-assigned managed identity


def tutorial_config(info: ConnectionInfo, resource_group: str = "myTutorial8", **binding: Any) -> dict[str, Any]:
    """The binding of the tutorial estate: myAvailabilitySet → myBackEndPool, NAT 50001.. → 22 (seed 000)."""
    rg_id = f"/subscriptions/{info.subscription_id}/resourceGroups/{resource_group}"
    spec: dict[str, Any] = {
        "name": "web",
        "match": {"availabilitySet": "myAvailabilitySet"},
        "loadBalancer": f"{rg_id}/providers/Microsoft.Network/loadBalancers/myLoadBalancer",
        "backendPool": "myBackEndPool",
        "natRule": {"backendPort": 22, "protocol": "Tcp", "frontendIpConfiguration": "myFrontEndPool",
                    "frontendPortRange": [50001, 50099]},
    }
    spec.update(binding)
    return {"scopes": [rg_id], "armEndpoint": info.arm_endpoint, "bindings": [spec]}


@dataclass
class LocalRun:
    """``with LocalRun(scenario="tutorial") as run: ...`` — everything started, everything stopped on exit."""

    scenario: str = "tutorial"
    time_scale: float = 0.1
    throttle: bool = True
    config: dict[str, Any] | None = None  # default: tutorial_config
    function_key: str | None = None
    resource_group: str = "myTutorial8"  # where the Event Grid system topic is created
    subscribe: bool = True
    log_level: str | None = None
    sim: Simulator = field(init=False)
    info: ConnectionInfo = field(init=False)
    host: Any = field(init=False)
    operator: ArmClients = field(init=False)
    _saved_env: dict[str, str | None] = field(init=False, default_factory=dict)

    def __enter__(self) -> LocalRun:
        self.sim = Simulator(scenario=self.scenario, time_scale=self.time_scale, throttle=self.throttle)
        self.sim.start()
        assert self.sim.info is not None
        self.info = self.sim.info
        config = self.config or tutorial_config(self.info, self.resource_group)
        env = {**self.info.env(), CLIENT_ID_VAR: POOLKEEPER_CLIENT_ID, CONFIG_VAR: json.dumps(config)}
        if self.log_level:
            env[LOG_LEVEL_VAR] = self.log_level
        for key, value in env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        import function_app
        from handlers import runtime
        from poolkeeper_local.host import LocalHost

        runtime.reset()
        self.host = LocalHost(function_app.app, port=0, timers=False, function_key=self.function_key).start()
        operator_credential = ManagedIdentityCredential()  # system-assigned: not poolkeeper's identity
        if self.subscribe:
            subscribe_webhook(operator_credential, self.info.arm_endpoint, self.info.subscription_id,
                              self.resource_group, self.host.eventgrid_url("on_resource_event"),
                              verify=self.info.ca_bundle)
        self.operator = make_clients(self.info.subscription_id, self.info.arm_endpoint, operator_credential)
        self.http = requests.Session()
        self.http.verify = self.info.ca_bundle
        return self

    def __exit__(self, *exc: object) -> None:
        from handlers import runtime

        with contextlib.suppress(requests.RequestException):  # let deliveries in flight finish first
            self.control("POST", "eventgrid/flush", {"timeout": 30})
        self.host.stop()
        self.operator.close()
        runtime.reset()
        self.sim.stop()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    # --- helpers --------------------------------------------------------------------------------------------
    def control(self, method: str, name: str, body: Any = None) -> Any:
        resp = self.http.request(method, self.info.control_endpoint + name, json=body)
        resp.raise_for_status()
        return resp.json()

    def reconcile(self, body: Any = None, **params: Any) -> requests.Response:
        return requests.post(f"{self.host.base_url}/api/reconcile", json=body if body is not None else {},
                             params=params, timeout=300)

    def poolkeeper_object_id(self) -> str:
        return self.control("GET", f"identity?client_id={POOLKEEPER_CLIENT_ID}")["oid"]
