"""Operator command line: ``python -m poolkeeper serve | plan | apply | demo`` (and the NAT-pool workflows).

``plan`` and ``apply`` work against real Azure with your own login (``az login``; DefaultAzureCredential) or against
armsim (set ``POOLKEEPER_ARM_ENDPOINT``, ``REQUESTS_CA_BUNDLE``, ``IDENTITY_ENDPOINT``/``IDENTITY_HEADER`` from
armsim's JSON line).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import Any

from poolkeeper.config import ConfigError
from poolkeeper.logs import configure
from poolkeeper.reconciler import ReconcileOutcome, Reconciler


def _short(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def print_outcome(outcome: ReconcileOutcome, out: Any = sys.stdout) -> None:
    plan = outcome.plan
    mode = "plan (dry run)" if outcome.dry_run else "apply"
    print(f"subscription {outcome.subscription_id} — {mode}, correlation id {outcome.correlation_id}", file=out)
    if not plan.changes:
        print("  nothing to do: Azure matches every binding", file=out)
    for change in plan.actions:
        print(f"  [{change.binding}] {change.kind:<22} {change.describe()}", file=out)
    for report in plan.reports:
        print(f"  [{report.binding}] REPORT {report.code:<16} {_short(report.subject_id)}: {report.message}", file=out)
    for f in outcome.findings:  # guardrails: enforce-mode refusals and audit-mode notes
        verb = "REFUSED" if f.mode == "enforce" else "FINDING"
        print(f"  {verb} {f.guardrail} {_short(f.resource_id)}: {f.message}; fix: {f.fix}", file=out)
    if outcome.result is not None:
        r = outcome.result
        print(f"  writes: {r.writes}, already in place: {r.skipped}, refused: {len(r.failed)}", file=out)
        for failure in r.failed:
            print(f"  REFUSED {_short(failure['resource'])}: {failure['code']}: {failure['message']}", file=out)


def cmd_plan_apply(args: argparse.Namespace, *, dry_run: bool) -> int:
    from poolkeeper.settings import load_settings

    config = load_settings(args.config)
    reconciler = Reconciler(config)
    try:
        outcomes = reconciler.reconcile_all(dry_run=dry_run)
    finally:
        reconciler.close()
    if args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=2))
    else:
        for outcome in outcomes:
            print_outcome(outcome)
    return 0 if all(o.ok for o in outcomes) else 1


def cmd_serve(args: argparse.Namespace) -> int:
    if args.config:
        os.environ["POOLKEEPER_CONFIG"] = args.config
    from poolkeeper.settings import load_settings

    load_settings()  # fail now, naming the bad field, rather than at the first event
    import function_app
    from poolkeeper.host import LocalHost

    host = LocalHost(function_app.app, host=args.host, port=args.port, function_key=args.function_key,
                     timers=not args.no_timers).start()
    print(json.dumps({"url": host.base_url, "eventgrid_webhook": host.eventgrid_url("on_resource_event"),
                      "functions": host.function_names()}), flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    host.stop()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m poolkeeper", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default=os.environ.get("POOLKEEPER_LOG_LEVEL", "WARNING"))
    sub = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (("plan", "dry run over every binding: what would change and why"),
                            ("apply", "reconcile every binding now")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--config", help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG)")
        p.add_argument("--json", action="store_true", help="print the plan/result as JSON")

    check = sub.add_parser("check", help="run the guardrail catalog read-only over every scope (exit 2: findings at "
                                         "or above --fail-on)")
    check.add_argument("--config", help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG)")
    check.add_argument("--json", action="store_true", help="print {\"findings\": [...]} as JSON")
    check.add_argument("--guardrail", action="append", metavar="ID", help="only this guardrail (repeatable)")
    check.add_argument("--fail-on", default="high", help="lowest severity that makes the exit code 2 (default high)")

    serve = sub.add_parser("serve", help="run the Functions app locally (HTTP, Event Grid webhook, timers)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7071)
    serve.add_argument("--function-key", default=os.environ.get("POOLKEEPER_FUNCTION_KEY"))
    serve.add_argument("--no-timers", action="store_true")
    serve.add_argument("--config", help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG)")

    demo = sub.add_parser("demo", help="the guided demo on armsim (what `make demo` runs)")
    demo.add_argument("--time-scale", type=float, default=0.1,
                      help="armsim time scale (0.1: a VM takes 3 s to create instead of 30 s)")

    from poolkeeper import sweep_cli, workflow_cli

    sweep_cli.add_commands(sub)
    workflow_cli.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure(args.log_level)
    try:
        if args.command == "plan":
            return cmd_plan_apply(args, dry_run=True)
        if args.command == "apply":
            return cmd_plan_apply(args, dry_run=False)
        if args.command == "serve":
            return cmd_serve(args)
        if args.command == "check":
            from poolkeeper.check_cli import cmd_check

            return cmd_check(args)
        if args.command == "demo":
            from poolkeeper.demo import run_demo

            return run_demo(time_scale=args.time_scale)
        from poolkeeper import sweep_cli, workflow_cli

        if args.command in sweep_cli.COMMANDS:
            return sweep_cli.run(args)
        return workflow_cli.run(args)
    except ConfigError as err:
        print(f"poolkeeper: invalid configuration: {err}", file=sys.stderr)
        return 2
    except ValueError as err:
        print(f"poolkeeper: {err}", file=sys.stderr)
        return 2
