"""Fixtures shared by the armsim tests: the network tests' estate (refusals, fidelity, scale sets), and seed 001's."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.armsim.test_network_support import Estate, instant
from tests.conftest import SimHandle


@pytest.fixture
def estate(armsim: SimHandle) -> Estate:
    """A fresh subscription with instant long-running operations and the estate's virtual network."""
    instant(armsim)
    e = Estate(armsim)
    e.vnet()
    return e


@pytest.fixture
def natpool(armsim_factory: Callable[..., SimHandle]) -> SimHandle:
    """Seed 001's estate (``vmss-natpool``): a Uniform scale set behind a load balancer with an inbound NAT pool."""
    return armsim_factory(scenario="vmss-natpool")
