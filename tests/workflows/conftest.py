"""Fixtures for the NAT-pool workflow tests: armsim's ``vmss-natpool`` estate and a Workflows service on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from poolkeeper.clients import ArmClients
from poolkeeper.gateway import ArmGateway
from poolkeeper.workflows import Workflows
from poolkeeper.workflows.store import FileStore
from tests.conftest import SimHandle
from tests.workflows.helpers import writes

RG = "MyResourceGroup"


@dataclass
class Estate:
    """The running simulator, SDK clients, the workflows service and the ids of seed 001's resources."""

    sim: SimHandle
    clients: ArmClients
    workflows: Workflows
    store: FileStore

    def rid(self, provider_path: str) -> str:
        return self.sim.rid(RG, provider_path)

    @property
    def lb_id(self) -> str:
        return self.rid("Microsoft.Network/loadBalancers/MyLoadBalancer")

    @property
    def vmss_id(self) -> str:
        return self.rid("Microsoft.Compute/virtualMachineScaleSets/MyVMSS")

    def gateway(self, correlation_id: str | None = None) -> ArmGateway:
        return ArmGateway(self.clients, correlation_id=correlation_id, max_wait=2.0)

    def lb(self) -> dict[str, Any]:
        body = self.gateway().get_load_balancer(self.lb_id)
        assert body
        return body

    def vmss(self) -> dict[str, Any]:
        body = self.gateway().get_scale_set(self.vmss_id)
        assert body
        return body

    def instances(self) -> list[dict[str, Any]]:
        return self.gateway().list_scale_set_instances(self.vmss_id)

    def writes(self) -> list[dict[str, Any]]:
        """ARM requests that changed something (succeeded, not reads nor the port mapping query), in order."""
        return writes(self.sim.requests_log())


@pytest.fixture
def estate_factory(armsim_factory: Callable[..., SimHandle], tmp_path: Path) -> Iterator[Callable[..., Estate]]:
    made: list[ArmClients] = []

    def make(**kwargs: Any) -> Estate:
        sim = armsim_factory(scenario="vmss-natpool", **kwargs)
        clients = sim.clients(retry_total=0)
        made.append(clients)
        store = FileStore(tmp_path / "operations")
        workflows = Workflows(lambda sub, cid: ArmGateway(clients, correlation_id=cid, max_wait=2.0), store)
        return Estate(sim, clients, workflows, store)

    yield make
    for c in made:
        c.close()


@pytest.fixture
def estate(estate_factory: Callable[..., Estate]) -> Estate:
    return estate_factory()
