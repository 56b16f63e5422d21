"""`armsim`: a local Azure Resource Manager for the load-balancer estate.

`armsim serve` runs the simulator until SIGINT/SIGTERM and prints one JSON line when ready; with `--env-file FILE`
it also writes the shell exports that point the Azure SDK, the az CLI and poolkeeper at it. `armsim env FILE`
prints the same exports from a saved JSON line.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from armsim.signals import wait_for_signal

# Two distinct user-assigned identities (armsim gives each client id its own object id, armsim/identity.py):
# the operator's CLI and az act as one, poolkeeper's Functions app (`poolkeeper serve`) as the other, so poolkeeper
# recognises its own writes in the events and ignores them, while the operator's writes trigger it.
OPERATOR_CLIENT_ID = "operator"
POOLKEEPER_CLIENT_ID = "poolkeeper"

EXAMPLES = """examples:
  armsim serve --scenario tutorial --time-scale 0.1 --env-file armsim.env &
  . ./armsim.env                 # then: poolkeeper plan --config examples/tutorial.json
  armsim env sim.json            # exports from a saved JSON line
"""


def exports(info: dict[str, Any]) -> str:
    """Shell lines (POSIX sh) exporting what the SDK, az and poolkeeper need to talk to this simulator."""
    values = {
        "IDENTITY_ENDPOINT": info["identity_endpoint"],
        "IDENTITY_HEADER": info["identity_header"],
        "REQUESTS_CA_BUNDLE": info["ca_bundle"],
        "SSL_CERT_FILE": info["ca_bundle"],
        "AZURE_SUBSCRIPTION_ID": info["subscription_id"],
        "AZURE_TENANT_ID": info["tenant_id"],
        "POOLKEEPER_ARM_ENDPOINT": info["arm_endpoint"],
        "ARMSIM_ARM_ENDPOINT": info["arm_endpoint"],
        "ARMSIM_CONTROL_ENDPOINT": info["control_endpoint"],
        "ARMSIM_OPERATOR_CLIENT_ID": OPERATOR_CLIENT_ID,
        "ARMSIM_POOLKEEPER_CLIENT_ID": POOLKEEPER_CLIENT_ID,
        # this shell is the operator; start poolkeeper's app with AZURE_CLIENT_ID=$ARMSIM_POOLKEEPER_CLIENT_ID
        "AZURE_CLIENT_ID": OPERATOR_CLIENT_ID,
    }
    lines = ["# armsim: source this file (. ./armsim.env) to point the Azure SDK, az and poolkeeper at armsim"]
    lines += [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]
    lines += [
        "# az CLI: a config dir of its own, a cloud named armsim, then a managed-identity login",
        "#   export AZURE_CONFIG_DIR=$(mktemp -d) AZURE_CORE_COLLECT_TELEMETRY=false",
        "#   az cloud register --name armsim --endpoint-resource-manager \"$ARMSIM_ARM_ENDPOINT\" && "
        "az cloud set --name armsim && az login --identity --client-id \"$ARMSIM_OPERATOR_CLIENT_ID\"",
        "# poolkeeper's Functions app as its own identity:",
        "#   AZURE_CLIENT_ID=$ARMSIM_POOLKEEPER_CLIENT_ID poolkeeper serve --config examples/tutorial.json",
    ]
    return "\n".join(lines) + "\n"


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
    return value


def build_parser() -> argparse.ArgumentParser:
    try:
        from rich_argparse import RawDescriptionRichHelpFormatter as fmt
    except ImportError:  # armsim alone, without poolkeeper's runtime dependencies
        fmt = argparse.RawDescriptionHelpFormatter  # type: ignore[misc]
    parser = argparse.ArgumentParser(prog="armsim", description=__doc__, epilog=EXAMPLES, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    serve = sub.add_parser("serve", help="start the simulator", formatter_class=fmt,
                           epilog="example: armsim serve --scenario tutorial --time-scale 0.1 --env-file armsim.env")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="0 picks a free port (the default)")
    serve.add_argument("--scenario", default="empty",
                       help="empty | tutorial | tutorial-basic | tutorial-before-rules | vmss-natpool | violations | "
                            "storm (default empty)")
    serve.add_argument("--time-scale", type=_positive, default=1.0,
                       help="multiplies every simulated duration, > 0 (default 1.0: Azure's pace; 0.1: ten times "
                            "faster)")
    serve.add_argument("--no-throttle", action="store_true", help="turn ARM's request throttling off")
    serve.add_argument("--state-dir", default=None, help="keep state (and the CA) here across restarts")
    serve.add_argument("--env-file", metavar="FILE", help="when ready, write the shell exports for the SDK, az and "
                                                          "poolkeeper to FILE (source it: . ./FILE)")
    env = sub.add_parser("env", help="print the shell exports for a running simulator", formatter_class=fmt,
                         epilog="example: armsim serve > sim.json & sleep 2; eval \"$(armsim env sim.json)\"")
    env.add_argument("json_line", metavar="FILE", help="file holding the JSON line `armsim serve` printed ('-': stdin)")
    return parser


def cmd_env(path: str) -> int:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    lines = [line for line in text.splitlines() if line.strip().startswith("{")]
    if not lines:
        print(f"armsim: {path} holds no JSON line from `armsim serve`", file=sys.stderr)
        return 2
    print(exports(json.loads(lines[0])), end="")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from armsim.simulator import Simulator

    sim = Simulator(scenario=args.scenario, time_scale=args.time_scale, throttle=not args.no_throttle,
                    state_dir=args.state_dir, host=args.host, port=args.port)
    try:
        info = sim.start()
    except OSError as err:
        print(f"armsim: cannot listen on {args.host}:{args.port} ({err.strerror or err}): pick another --port "
              f"(0 picks a free one)", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError) as err:
        print(f"armsim: {err}", file=sys.stderr)
        return 2
    if args.env_file:
        target = Path(args.env_file)
        partial = target.with_name(target.name + ".partial")
        partial.write_text(exports(asdict(info)))
        partial.replace(target)  # appears whole: a shell waiting for the file never reads half of it
    print(json.dumps(asdict(info)), flush=True)
    wait_for_signal()
    sim.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "env":
        return cmd_env(args.json_line)
    return cmd_serve(args)


if __name__ == "__main__":
    sys.exit(main())
