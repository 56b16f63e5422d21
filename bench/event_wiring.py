"""How fast, and at what ARM cost, poolkeeper wires a burst of new VMs arriving through Event Grid.

N VMs are created at once in the tutorial estate (armsim, throttling on, Event Grid delivering with the given
concurrency); the figures are the time until every NIC is in the pool with its own NAT rule, the per-VM latency
from the VM's creation finishing to its NIC being wired, and the ARM calls poolkeeper made (from armsim's request
log, by principal), including lost ETag races (412) and busy/throttled answers.

Usage: ``python -m bench.event_wiring [--vms 50] [--time-scale 0.1] [--concurrency 4]``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import statistics
import time
from collections import Counter
from typing import Any

from poolkeeper_local.localrun import LocalRun

RG = "myTutorial8"


def _nic_body(rg_id: str) -> dict[str, Any]:
    subnet = f"{rg_id}/providers/Microsoft.Network/virtualNetworks/myVnet/subnets/mySubnet"
    return {"location": "westus", "properties": {"ipConfigurations": [
        {"name": "ipconfig1", "properties": {"subnet": {"id": subnet}, "primary": True}}]}}


def _vm_body(rg_id: str, name: str) -> dict[str, Any]:
    return {"location": "westus", "properties": {
        "hardwareProfile": {"vmSize": "Standard_B1s"},
        "availabilitySet": {"id": f"{rg_id}/providers/Microsoft.Compute/availabilitySets/myAvailabilitySet"},
        "osProfile": {"computerName": name, "adminUsername": "azureuser"},
        "networkProfile": {"networkInterfaces": [
            {"id": f"{rg_id}/providers/Microsoft.Network/networkInterfaces/{name}-nic"}]}}}


def _wired_nics(run: LocalRun) -> set[str]:
    """Names of the NICs that are in a pool and have a NAT rule — one list call per poll, so the harness's own
    reads stay far inside the operator's throttle budget (they are not counted as poolkeeper's)."""
    out = set()
    for nic in run.operator.network.network_interfaces.list(RG):
        body = nic.as_dict()
        props = body["properties"]["ipConfigurations"][0].get("properties") or {}
        if props.get("loadBalancerBackendAddressPools") and props.get("loadBalancerInboundNatRules"):
            out.add(body["name"])
    return out


def run(vms: int = 50, time_scale: float = 0.1, concurrency: int = 4) -> dict[str, Any]:
    with LocalRun(scenario="tutorial", time_scale=time_scale, throttle=True, log_level="WARNING") as lr:
        rg_id = f"/subscriptions/{lr.info.subscription_id}/resourceGroups/{RG}"
        lr.reconcile()  # the three tutorial VMs first, so the burst is measured alone
        lr.control("POST", "eventgrid/chaos", {"concurrency": concurrency})
        names = [f"burst{i:03d}" for i in range(vms)]
        nics = lr.operator.network.network_interfaces
        with cf.ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda n: nics.begin_create_or_update(RG, f"{n}-nic", _nic_body(rg_id)).result(), names))
        lr.control("POST", "reset")
        created: dict[str, float] = {}
        wired: dict[str, float] = {}
        start = time.monotonic()

        def create(name: str) -> None:
            lr.operator.compute.virtual_machines.begin_create_or_update(RG, name, _vm_body(rg_id, name)).result()
            created[name] = time.monotonic()

        with cf.ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(create, n) for n in names]
            deadline = time.monotonic() + 600
            while len(wired) < vms and time.monotonic() < deadline:
                now_wired = _wired_nics(lr)
                for n in names:
                    if n not in wired and f"{n}-nic" in now_wired:
                        wired[n] = time.monotonic()
                time.sleep(0.1)
            for f in futures:
                f.result()
        total = time.monotonic() - start
        mine = lr.poolkeeper_object_id()
        log = [e for e in lr.control("GET", "requests") if e.get("principal") == mine]
        statuses = Counter(e["status"] for e in log)
        writes = [e for e in log if e["kind"] != "read" and e["status"] < 300]
        latencies = sorted(max(0.0, wired[n] - created.get(n, wired[n])) for n in wired)
    return {
        "vms": vms,
        "wired": len(wired),
        "time_scale": time_scale,
        "event_concurrency": concurrency,
        "seconds_until_all_wired": round(total, 2),
        "latency_after_vm_created_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "latency_after_vm_created_p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 3) if latencies else None,
        "poolkeeper_arm_requests": len(log),
        "poolkeeper_reads": sum(1 for e in log if e["kind"] == "read"),
        "poolkeeper_successful_writes": len(writes),
        "writes_per_vm": round(len(writes) / max(1, vms), 2),
        "etag_races_412": statuses.get(412, 0),
        "busy_409_or_429": statuses.get(409, 0) + statuses.get(429, 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--vms", type=int, default=50)
    parser.add_argument("--time-scale", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    for key, value in run(args.vms, args.time_scale, args.concurrency).items():
        print(f"{key:34} {value}")


if __name__ == "__main__":
    main()
