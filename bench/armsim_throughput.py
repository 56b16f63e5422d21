"""How many ARM GETs per second armsim serves: N concurrent clients read the tutorial load balancer for ~5 s.

Usage: ``python bench/armsim_throughput.py [--clients 16] [--seconds 5]``. Starts its own simulator (tutorial
scenario, throttling off) and prints requests per second; a measurement, not a test.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

import requests
from azure.identity import ManagedIdentityCredential

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout: python bench/armsim_throughput.py
from armsim import Simulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with Simulator(scenario="tutorial", time_scale=0.01, throttle=False) as sim:
        info = sim.info
        assert info is not None
        os.environ.update(info.env())
        token = ManagedIdentityCredential().get_token(info.arm_endpoint + ".default").token
        url = (
            f"{info.arm_endpoint.rstrip('/')}/subscriptions/{info.subscription_id}/resourceGroups/myTutorial8/"
            f"providers/Microsoft.Network/loadBalancers/myLoadBalancer?api-version=2024-07-01"
        )
        counts = [0] * args.clients
        errors = [0] * args.clients
        stop = time.monotonic() + args.seconds

        def worker(i: int) -> None:
            s = requests.Session()
            s.verify = info.ca_bundle
            s.headers["Authorization"] = f"Bearer {token}"
            while time.monotonic() < stop:
                r = s.get(url)
                if r.status_code == 200:
                    counts[i] += 1
                else:
                    errors[i] += 1

        started = time.monotonic()
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        print(
            f"{sum(counts)} GETs of the tutorial LB in {elapsed:.1f}s with {args.clients} clients: "
            f"{sum(counts) / elapsed:.0f} req/s ({sum(errors)} errors)"
        )


if __name__ == "__main__":
    main()
