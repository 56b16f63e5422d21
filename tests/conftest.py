"""Shared fixtures: a fresh armsim per test, and the real SDK clients pointed at it through managed identity."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from armsim import Simulator
from poolkeeper.clients import ArmClients, make_clients

FAST = 0.01  # time scale for tests: operations take 1% of Azure's time


class SimHandle:
    """A running simulator plus helpers to reach its control endpoint and build SDK clients."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        assert sim.info is not None
        self.info = sim.info
        self.http = requests.Session()
        self.http.verify = self.info.ca_bundle

    @property
    def engine(self) -> Any:
        return self.sim.engine

    @property
    def subscription_id(self) -> str:
        return self.info.subscription_id

    def rid(self, rg: str, provider_path: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{rg}/providers/{provider_path}"

    def control(self, method: str, name: str, body: Any = None) -> Any:
        resp = self.http.request(method, self.info.control_endpoint + name, json=body)
        resp.raise_for_status()
        return resp.json()

    def requests_log(self) -> list[dict[str, Any]]:
        return self.control("GET", "requests")

    def reset_log(self) -> None:
        self.control("POST", "reset")

    def clients(self, client_id: str | None = None, **kwargs: Any) -> ArmClients:
        """Real SDK clients authenticating with the simulated managed identity (user-assigned if client_id)."""
        cred = ManagedIdentityCredential(client_id=client_id) if client_id else ManagedIdentityCredential()
        return make_clients(self.subscription_id, self.info.arm_endpoint, cred, **kwargs)

    def arm(self, method: str, path: str, body: Any = None, *, api_version: str = "2024-07-01",
            headers: dict[str, str] | None = None, token: str | None = None) -> requests.Response:
        """A raw ARM request (for asserting exact status codes and headers the SDK would hide)."""
        if token is None:
            token = ManagedIdentityCredential().get_token(self.info.arm_endpoint + ".default").token
        h = {"Authorization": f"Bearer {token}", **(headers or {})}
        sep = "&" if "?" in path else "?"
        url = self.info.arm_endpoint.rstrip("/") + path + (f"{sep}api-version={api_version}" if api_version else "")
        return self.http.request(method, url, json=body, headers=h)


@pytest.fixture
def armsim_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SimHandle]]:
    """Start simulators on demand: ``armsim_factory(scenario="tutorial", time_scale=FAST, throttle=False)``."""
    started: list[Simulator] = []

    def start(scenario: str = "empty", time_scale: float = FAST, throttle: bool = False, **kwargs: Any) -> SimHandle:
        sim = Simulator(scenario=scenario, time_scale=time_scale, throttle=throttle, **kwargs)
        sim.start()
        started.append(sim)
        for k, v in sim.info.env().items():  # type: ignore[union-attr]
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("AZURE_CLIENT_ID", raising=False)
        return SimHandle(sim)

    yield start
    for sim in started:
        sim.stop()


@pytest.fixture
def armsim(armsim_factory: Callable[..., SimHandle]) -> SimHandle:
    """An empty simulator at test speed, throttling off."""
    return armsim_factory()


@pytest.fixture
def tutorial(armsim_factory: Callable[..., SimHandle]) -> SimHandle:
    """The tutorial estate (seed 003, as az 2.91 builds it: Standard SKUs, ``ipconfig1``) at test speed."""
    return armsim_factory(scenario="tutorial")


@pytest.fixture
def tutorial_basic(armsim_factory: Callable[..., SimHandle]) -> SimHandle:
    """The tutorial era's Basic estate (``ipConfig1``, unmanaged disks): for tests of Basic semantics."""
    return armsim_factory(scenario="tutorial-basic")


os.environ.setdefault("AZURE_CORE_COLLECT_TELEMETRY", "false")
