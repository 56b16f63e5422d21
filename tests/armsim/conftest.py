"""Fixtures shared by the armsim network tests (refusals, fidelity, scale sets): one place builds their estate."""

from __future__ import annotations

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
