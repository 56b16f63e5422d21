"""``python -m armsim serve``: run the simulator until SIGINT/SIGTERM, printing one JSON line when ready."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from dataclasses import asdict

from armsim.simulator import Simulator


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m armsim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the simulator")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port")
    serve.add_argument("--scenario", default="empty",
                       help="empty | tutorial | tutorial-before-rules | vmss-natpool | storm")
    serve.add_argument("--time-scale", type=float, default=1.0, help="multiplies every simulated duration")
    serve.add_argument("--no-throttle", action="store_true", help="turn ARM's request throttling off")
    serve.add_argument("--state-dir", default=None, help="keep state (and the CA) here across restarts")
    args = parser.parse_args(argv)
    if args.time_scale <= 0:
        parser.error("--time-scale must be > 0")
    sim = Simulator(
        scenario=args.scenario,
        time_scale=args.time_scale,
        throttle=not args.no_throttle,
        state_dir=args.state_dir,
        host=args.host,
        port=args.port,
    )
    try:
        info = sim.start()
    except (RuntimeError, ValueError) as err:
        print(f"armsim: {err}", file=sys.stderr)
        return 2
    print(json.dumps(asdict(info)), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
