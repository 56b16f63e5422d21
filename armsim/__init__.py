"""armsim: a local Azure Resource Manager for the load-balancer estate, faithful enough for Microsoft's SDKs and CLI."""

from armsim.config import SimConfig
from armsim.simulator import ConnectionInfo, Simulator

__all__ = ["ConnectionInfo", "SimConfig", "Simulator"]
