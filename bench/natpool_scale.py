"""NAT-pool remove and migrate on a 100-instance scale set: the write-class requests poolkeeper makes vs the floor.

armsim's ``vmss-natpool`` estate (seed 001) with ``MyVMSS`` scaled to N instances (default 100). poolkeeper's CLI
(``python -m poolkeeper natpool remove|migrate``) runs as its own identity; armsim's request log, that principal only,
gives the writes (PUT), the POSTs (``manualUpgrade``, ``queryInboundNatRulePortMapping``: ARM counts POSTs against the
write bucket) and the reads. The floor: 1 model write + ⌈N/batch⌉ upgrades + 1 load-balancer write.

Usage: ``python -m bench.natpool_scale [--instances 100] [--time-scale 0.05] [--batch 20]``.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests
from azure.identity import ManagedIdentityCredential

from armsim import Simulator
from poolkeeper.clients import make_clients

ROOT = Path(__file__).resolve().parent.parent
RG = "MyResourceGroup"
CLIENT_ID = "poolkeeper-natpool-bench"


def run(action: str, instances: int, time_scale: float, batch: int) -> dict[str, Any]:
    with Simulator(scenario="vmss-natpool", time_scale=time_scale, throttle=True) as sim:
        info = sim.info
        assert info is not None
        env = {**os.environ, **info.env(), "AZURE_CLIENT_ID": CLIENT_ID, "PYTHONPATH": str(ROOT)}
        saved = {k: os.environ.get(k) for k in info.env()}
        os.environ.update(info.env())
        try:
            return _measure(info, env, action, instances, batch)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def _measure(info: Any, env: dict[str, str], action: str, instances: int, batch: int) -> dict[str, Any]:
    clients = make_clients(info.subscription_id, info.arm_endpoint, ManagedIdentityCredential())
    vmss = clients.compute.virtual_machine_scale_sets
    model = vmss.get(RG, "MyVMSS")
    model.sku.capacity = instances
    vmss.begin_create_or_update(RG, "MyVMSS", model).result()
    clients.close()
    lb_id = (f"/subscriptions/{info.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/"
             "loadBalancers/MyLoadBalancer")
    control = requests.Session()
    control.verify = info.ca_bundle
    control.post(info.control_endpoint + "reset").raise_for_status()
    cmd = [sys.executable, "-m", "poolkeeper", "natpool", action, "--load-balancer", lb_id,
           "--nat-pool", "MyNatPool", "--json"]
    with tempfile.TemporaryDirectory() as ops:
        started = time.monotonic()
        done = subprocess.run(cmd, cwd=ROOT, env={**env, "POOLKEEPER_OPERATIONS_DIR": ops}, capture_output=True,
                              text=True, timeout=1800)
        seconds = time.monotonic() - started
    mine = control.get(info.control_endpoint + f"identity?client_id={CLIENT_ID}").json()["oid"]
    log = [e for e in control.get(info.control_endpoint + "requests").json() if e.get("principal") == mine]
    ok = [e for e in log if e["status"] < 300]
    posts = Counter(e["path"].rstrip("/").split("/")[-1] for e in ok if e["method"] == "POST")
    puts = Counter(e["path"].split("/providers/")[-1].split("/")[1] for e in ok if e["method"] == "PUT")
    floor = 1 + math.ceil(instances / batch) + 1
    return {
        "action": action, "instances": instances, "exit_code": done.returncode, "seconds": round(seconds, 1),
        "error": done.stderr[-300:] if done.returncode else None,
        "write_class_requests": sum(1 for e in ok if e["kind"] != "read"),
        "puts_by_type": dict(puts), "posts_by_action": dict(posts),
        "reads": sum(1 for e in log if e["kind"] == "read"),
        "non_2xx": sum(1 for e in log if e["status"] >= 300),
        "floor_write_class": floor,
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--instances", type=int, default=100)
    parser.add_argument("--time-scale", type=float, default=0.05)
    parser.add_argument("--batch", type=int, default=20, help="upgradeBatchSize (poolkeeper's default is 20)")
    args = parser.parse_args(argv)
    out = []
    for action in ("remove", "migrate"):
        r = run(action, args.instances, args.time_scale, args.batch)
        out.append(r)
        print(f"natpool {action} on {r['instances']} instances: exit {r['exit_code']}, {r['seconds']} s; "
              f"write-class requests {r['write_class_requests']} (floor {r['floor_write_class']}: 1 model + "
              f"ceil({r['instances']}/{args.batch}) upgrades + 1 LB write); PUTs {r['puts_by_type']}, "
              f"POSTs {r['posts_by_action']}; reads {r['reads']}; non-2xx {r['non_2xx']}", flush=True)
        if r["error"]:
            print("  error:", r["error"])
    return out


if __name__ == "__main__":
    main()
