"""How the pure planner scales: time and peak memory to plan an estate of N VMs behind one load balancer.

Half the VMs are already wired (pool + NAT rule), half are new, so the plan both keeps and allocates ports.
Usage: ``python -m bench.planner_scale [--sizes 100 1000 5000]``.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from typing import Any

from poolkeeper.config import parse_config
from poolkeeper.model import Snapshot
from poolkeeper.planner import plan

SUB = "00000000-0000-0000-0000-000000000000"
RG = f"/subscriptions/{SUB}/resourceGroups/rg"
LB = f"{RG}/providers/Microsoft.Network/loadBalancers/lb"
FE = f"{LB}/frontendIPConfigurations/fe"
POOL = f"{LB}/backendAddressPools/pool"
AVSET = f"{RG}/providers/Microsoft.Compute/availabilitySets/as"
SUBNET = f"{RG}/providers/Microsoft.Network/virtualNetworks/vnet/subnets/default"


def estate(n: int) -> dict[str, list[dict[str, Any]]]:
    vms, nics, rules = [], [], []
    for i in range(n):
        vm_id = f"{RG}/providers/Microsoft.Compute/virtualMachines/vm{i}"
        nic_id = f"{RG}/providers/Microsoft.Network/networkInterfaces/nic{i}"
        wired = i % 2 == 0
        rule = f"{LB}/inboundNatRules/pk-vm{i}-22"
        ipcfg: dict[str, Any] = {"subnet": {"id": SUBNET}, "primary": True}
        if wired:
            ipcfg["loadBalancerBackendAddressPools"] = [{"id": POOL}]
            ipcfg["loadBalancerInboundNatRules"] = [{"id": rule}]
            rules.append({"name": f"pk-vm{i}-22", "id": rule, "properties": {
                "frontendIPConfiguration": {"id": FE}, "protocol": "Tcp", "frontendPort": 20000 + i, "backendPort": 22,
                "backendIPConfiguration": {"id": f"{nic_id}/ipConfigurations/ipconfig1"}}})
        vms.append({"id": vm_id, "name": f"vm{i}", "location": "westus", "properties": {
            "availabilitySet": {"id": AVSET}, "networkProfile": {"networkInterfaces": [{"id": nic_id}]}}})
        nics.append({"id": nic_id, "name": f"nic{i}", "tags": {"poolkeeper.binding": "web"} if wired else {},
                     "properties": {"virtualMachine": {"id": vm_id}, "ipConfigurations": [
                         {"name": "ipconfig1", "id": f"{nic_id}/ipConfigurations/ipconfig1", "properties": ipcfg}]}})
    lb = {"id": LB, "name": "lb", "sku": {"name": "Standard"}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "id": FE, "properties": {}}],
        "backendAddressPools": [{"name": "pool", "id": POOL, "properties": {}}],
        "inboundNatRules": rules}}
    return {"vms": vms, "nics": nics, "load_balancers": [lb]}


CONFIG = parse_config({"scopes": [RG], "bindings": [{
    "name": "web", "match": {"availabilitySet": "as"}, "loadBalancer": LB, "backendPool": "pool",
    "natRule": {"backendPort": 22, "protocol": "Tcp", "frontendIpConfiguration": "fe",
                "frontendPortRange": [20000, 40000]}}]})


def measure(n: int) -> dict[str, Any]:
    raw = estate(n)
    tracemalloc.start()
    t0 = time.perf_counter()
    snapshot = Snapshot.from_arm(**raw)
    t1 = time.perf_counter()
    result = plan(CONFIG, snapshot)
    t2 = time.perf_counter()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"vms": n, "snapshot_ms": round((t1 - t0) * 1000, 1), "plan_ms": round((t2 - t1) * 1000, 1),
            "changes": len(result.changes), "peak_mib": round(peak / 2**20, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 5000])
    args = parser.parse_args()
    print(f"{'vms':>6} {'snapshot ms':>12} {'plan ms':>9} {'changes':>8} {'peak MiB':>9}")
    for n in args.sizes:
        m = measure(n)
        print(f"{m['vms']:>6} {m['snapshot_ms']:>12} {m['plan_ms']:>9} {m['changes']:>8} {m['peak_mib']:>9}")


if __name__ == "__main__":
    main()
