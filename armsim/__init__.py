"""armsim: a local Azure Resource Manager for the load-balancer estate, faithful enough for Microsoft's SDKs and CLI.

The simulator (and with it aiohttp, trustme and pyjwt, the ``armsim`` extra) is imported on first use of a name
below, not with the package: ``poolkeeper serve`` shares ``armsim.signals`` and must run without that extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from armsim.config import SimConfig
    from armsim.simulator import ConnectionInfo, Simulator

__all__ = ["ConnectionInfo", "SimConfig", "Simulator"]
_HOMES = {"ConnectionInfo": "armsim.simulator", "SimConfig": "armsim.config", "Simulator": "armsim.simulator"}


def __getattr__(name: str) -> Any:
    """``from armsim import Simulator``: import the module that defines the name, once (PEP 562)."""
    if name not in _HOMES:
        raise AttributeError(f"module 'armsim' has no attribute '{name}'")
    value = getattr(importlib.import_module(_HOMES[name]), name)
    globals()[name] = value
    return value
