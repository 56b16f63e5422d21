"""Request-log helpers: which ARM writes a workflow made, in order, by resource."""

from __future__ import annotations

import math
from typing import Any

QUERY_PORTS = "queryinboundnatruleportmapping"


def writes(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Successful ARM requests that change something (PUT/PATCH/POST/DELETE), in order.

    The NAT rule V2 port mapping query is a POST (ARM logs it as an action) that changes nothing: left out.
    """
    return [e for e in log if e["kind"] != "read" and e["status"] < 300 and not is_port_query(e)]


def is_port_query(entry: dict[str, Any]) -> bool:
    """A LoadBalancers_ListInboundNatRulePortMappings request (its POST, not the operation polls)."""
    return entry["method"] == "POST" and entry["path"].rstrip("/").lower().endswith(QUERY_PORTS)


def labels(log: list[dict[str, Any]]) -> list[str]:
    """Each successful write as ``METHOD type/name[/action]`` (e.g. ``PUT loadBalancers/MyLoadBalancer``)."""
    out = []
    for e in writes(log):
        parts = e["path"].split("/")
        tail = "/".join(parts[-2:])
        if parts[-1].lower() == "manualupgrade":
            tail = "/".join(parts[-3:])
        out.append(f"{e['method']} {tail}")
    return out


def count(log: list[dict[str, Any]], label: str) -> int:
    return sum(1 for x in labels(log) if x.lower() == label.lower())


LB_PUT = "PUT loadBalancers/MyLoadBalancer"
VMSS_PUT = "PUT virtualMachineScaleSets/MyVMSS"
UPGRADE = "POST virtualMachineScaleSets/MyVMSS/manualupgrade"
PIP_DELETE = "DELETE publicIPAddresses/MyFrontendPublicIP"


def batches(instances: int, batch_size: int) -> int:
    return math.ceil(instances / batch_size)
