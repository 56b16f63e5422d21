"""``python -m bench`` (``make bench``): every benchmark at a modest size, figures printed."""

from __future__ import annotations

import subprocess
import sys


def main() -> None:
    steps = [
        ("armsim throughput (GET requests/s)", [sys.executable, "bench/armsim_throughput.py", "--seconds", "5"]),
        ("planner scale (pure, no Azure)", [sys.executable, "-m", "bench.planner_scale"]),
        ("event-driven wiring: 50 VMs at once, Event Grid concurrency 4, time scale 0.1",
         [sys.executable, "-m", "bench.event_wiring", "--vms", "50", "--time-scale", "0.1", "--concurrency", "4"]),
        ("compliance sweep: 2,000 VMs behind 200 load balancers (ARM reads = list pages + a constant)",
         [sys.executable, "-m", "bench.sweep_scale"]),
        ("storm (short): 50 VMs in a burst, time scale 0.2, Event Grid concurrency 8, vs the naive reactor and az",
         [sys.executable, "-m", "bench.storm", "--vms", "50", "--time-scale", "0.2", "--concurrency", "8",
          "--deadline", "600"]),
    ]
    for title, cmd in steps:
        print(f"\n== {title}", flush=True)
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
