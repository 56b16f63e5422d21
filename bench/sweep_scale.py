"""What a compliance sweep costs at scale: 2,000 VMs behind 200 Standard load balancers on armsim.

The estate is seeded through armsim's seeding path (``Engine.internal_put``, ``armsim/scenarios/fleet.py``): 200
load balancers, each with a probed rule and a pool of 10 VMs already in it, one binding per availability set. Then
a dry-run sweep and an applying sweep (a compliant estate: nothing to write) run through the real SDKs, and the
ARM requests armsim served are counted from its request log: list pages (collection GETs, ``nextLink`` pages
included) versus per-resource GETs. The claim: reads = list pages + a small constant, never one GET per resource.
Usage: ``python -m bench.sweep_scale [--lbs 200] [--vms-per-lb 10]``.
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from armsim import Simulator
from armsim.scenarios.fleet import build_fleet, fleet_config


def is_collection(path: str) -> bool:
    """A LIST (collection) path ends with a type: an odd number of segments after /providers/<namespace>."""
    tail = path.split("?")[0].split("/providers/", 1)[-1].split("/")[1:]
    return len(tail) % 2 == 1


def count(log: list[dict[str, Any]]) -> dict[str, int]:
    reads = [e for e in log if e["method"] == "GET"]
    pages = sum(1 for e in reads if is_collection(e["path"]))
    return {"requests": len(log), "reads": len(reads), "list_pages": pages, "per_resource_gets": len(reads) - pages,
            "writes": sum(1 for e in log if e["method"] in ("PUT", "PATCH", "DELETE", "POST"))}


def run(lbs: int = 200, vms_per_lb: int = 10) -> dict[str, Any]:
    from azure.identity import ManagedIdentityCredential

    from poolkeeper.config import parse_config
    from poolkeeper.reconciler import Reconciler
    from poolkeeper.sweep import run_sweep

    with Simulator(scenario="empty", time_scale=0.01, throttle=False) as sim:
        assert sim.info is not None
        for k, v in sim.info.env().items():
            os.environ[k] = v
        os.environ.pop("AZURE_CLIENT_ID", None)
        started = time.perf_counter()
        sim.call(lambda: build_fleet(sim.engine, lbs=lbs, vms_per_lb=vms_per_lb, in_pool=True))
        seeded = time.perf_counter() - started
        page_size = int(sim.engine.config.page_size)
        config = parse_config(fleet_config(sim.info.subscription_id, sim.info.arm_endpoint, lbs=lbs))
        rec = Reconciler(config, ManagedIdentityCredential())
        figures: dict[str, Any] = {"lbs": lbs, "vms": lbs * vms_per_lb, "page_size": page_size,
                                   "seed_seconds": round(seeded, 1)}
        try:
            for label, apply in (("dry_run", False), ("apply", True)):
                sim.engine.reset_log()
                t0 = time.perf_counter()
                report = run_sweep(rec, apply=apply)
                elapsed = time.perf_counter() - t0
                figures[label] = {**count(list(sim.engine.request_log)), "seconds": round(elapsed, 2),
                                  "findings": report.summary["findings"],
                                  "changes": report.summary["changesPlanned"]}
        finally:
            rec.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lbs", type=int, default=200)
    parser.add_argument("--vms-per-lb", type=int, default=10)
    args = parser.parse_args()
    from poolkeeper.logs import configure

    configure("WARNING")
    f = run(args.lbs, args.vms_per_lb)
    print(f"estate: {f['vms']} VMs behind {f['lbs']} load balancers (seeded in {f['seed_seconds']} s), "
          f"armsim page size {f['page_size']}")
    for label in ("dry_run", "apply"):
        x = f[label]
        print(f"sweep ({label.replace('_', ' ')}): {x['seconds']} s; ARM requests {x['requests']}: "
              f"{x['list_pages']} list pages + {x['per_resource_gets']} per-resource GETs, {x['writes']} writes; "
              f"{x['findings']} findings, {x['changes']} changes")


if __name__ == "__main__":
    main()
