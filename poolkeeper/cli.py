"""Operator command line: `poolkeeper` (or `python -m poolkeeper`).

Keeps Azure Load Balancer wiring (backend pools, inbound NAT rules) in step with VMs and scale sets, and runs the
NAT-pool workflows. Against Azure it uses your own login (`az login`, DefaultAzureCredential); against armsim, source
the env file `python -m armsim serve --env-file armsim.env` writes.

Exit codes: 0 nothing to do or all applied; 2 something was refused or reported (plan/apply findings, an invalid
configuration or request); 1 an error (ARM unreachable, credential missing, an unexpected failure); 3 a workflow
is waiting (resume it later); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from poolkeeper import __version__
from poolkeeper.clierrors import CliError, explain, preflight
from poolkeeper.config import ConfigError
from poolkeeper.logs import LEVELS, configure
from poolkeeper.settings import Settings

EXIT_OK, EXIT_ERROR, EXIT_FINDINGS, EXIT_INTERRUPTED = 0, 1, 2, 130

EXAMPLES = """examples:
  poolkeeper plan --config examples/tutorial.json            what would change, and why (no writes)
  poolkeeper apply --binding web                             reconcile one binding now
  poolkeeper plan --resource-id /subscriptions/…/virtualMachines/myVM4
  poolkeeper natpool migrate -g MyResourceGroup --lb-name MyLoadBalancer --nat-pool MyNatPool --dry-run
  poolkeeper operation list                                  workflow operations and their status
  poolkeeper sweep --apply --html report.html                compliance sweep: repair within limits, report
  poolkeeper drain /subscriptions/…/virtualMachines/myVM2    out of rotation for maintenance (restore: back)
  poolkeeper serve --port 7071                               the Functions app on a local host
"""


def _short(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def _console(out: Any = None) -> Any:
    from rich.console import Console

    stream = out or sys.stdout
    width = None if stream.isatty() else Settings.from_env().columns
    return Console(file=stream, width=width, highlight=False, soft_wrap=False)


def print_outcome(outcome: Any, out: Any = None) -> None:
    """One table per subscription: binding, change, target, what and why; then one summary line."""
    from rich.table import Table

    console = _console(out)
    plan = outcome.plan
    mode = "plan (dry run)" if outcome.dry_run else "apply"
    console.print(f"{mode} — subscription {outcome.subscription_id}")
    if plan.changes or plan.findings:
        table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
        table.add_column("binding", no_wrap=True)
        table.add_column("change", no_wrap=True)
        table.add_column("target", no_wrap=True)
        table.add_column("what and why", overflow="fold")
        for change in plan.changes:
            table.add_row(change.binding, change.kind, _short(change.target_id), change.describe())
        for f in plan.findings:  # what the planner refused or only flagged instead of writing
            table.add_row(f.binding or "", f"[yellow]REPORT {f.guardrail}[/]", _short(f.resource_id),
                          f.message + (f"; fix: {f.fix}" if f.fix else ""))
        console.print(table)
    for f in getattr(outcome, "findings", ()):  # guardrails: enforce-mode refusals and audit-mode notes
        verb = "REFUSED" if f.mode == "enforce" else "FINDING"
        console.print(f"{verb} {f.guardrail} {_short(f.resource_id)}: {f.message}; fix: {f.fix}")
    actions, reports = len(plan.changes), len(plan.findings)
    if outcome.result is None:
        summary = ("nothing to do: Azure matches every binding" if not actions and not reports else
                   f"{actions} change(s) to make, {reports} report(s)"
                   + (" — run `poolkeeper apply` to make them" if actions else ""))
    else:
        r = outcome.result
        summary = (f"{r.writes} write(s), {r.skipped} already in place, {len(r.failed)} refused, "
                   f"{reports} report(s)" if actions or reports else "nothing to do: Azure matches every binding")
        for failure in r.failed:
            console.print(f"REFUSED {_short(failure['resource'])}: {failure['code']}: {failure['message']}")
    console.print(summary)
    console.print(f"correlation id {outcome.correlation_id}", style="dim")


def _exit_code(outcomes: list[Any]) -> int:
    refused = any(not o.ok for o in outcomes)
    reported = any(o.plan.findings for o in outcomes)
    return EXIT_FINDINGS if refused or reported else EXIT_OK


def _run_filtered(reconciler: Any, args: argparse.Namespace, *, dry_run: bool) -> list[Any]:
    """Everything, one binding (``--binding``) or one resource (``--resource-id``), as POST /api/reconcile does."""
    from poolkeeper.ids import ResourceId, in_scope

    if args.binding and args.resource_id:
        raise CliError("give --binding or --resource-id, not both", EXIT_FINDINGS)
    if args.binding:
        names = [b.name for b in reconciler.config.bindings]
        if args.binding not in names:
            raise CliError(f"unknown binding {args.binding!r}; configured: {', '.join(names)}", EXIT_FINDINGS)
        return [reconciler.reconcile(sub, binding=args.binding, dry_run=dry_run) for sub in reconciler.subscriptions()]
    if args.resource_id:
        try:
            rid = ResourceId.parse(args.resource_id)
        except ValueError as err:
            raise CliError(f"--resource-id: {err}", EXIT_FINDINGS) from err
        if not in_scope(rid, reconciler.config.scopes):
            raise CliError(f"{rid} is outside the configured scopes ({', '.join(reconciler.config.scopes)})",
                           EXIT_FINDINGS)
        target = rid.top.key if rid.types and rid.types[0].lower() == "virtualmachinescalesets" else rid.key
        return [reconciler.reconcile(rid.subscription, resource_group=rid.resource_group,
                                     only={target} if rid.types else None, dry_run=dry_run)]
    return list(reconciler.reconcile_all(dry_run=dry_run))


def cmd_plan_apply(args: argparse.Namespace, *, dry_run: bool) -> int:
    from poolkeeper.composition import build, load_configuration

    settings = Settings.from_env()
    config = load_configuration(settings, args.config)
    preflight()
    app = build(settings, config=config)
    try:
        outcomes = _run_filtered(app.require_reconciler(), args, dry_run=dry_run)
    finally:
        app.close()
    if args.json:
        print(json.dumps([o.to_dict() for o in outcomes], indent=2))
    else:
        for outcome in outcomes:
            print_outcome(outcome)
    return _exit_code(outcomes)


def dev_command(name: str) -> Any:
    """``serve`` and ``demo`` live in ``poolkeeper_local`` (not deployed, may need armsim): imported only here, when
    the operator runs one of them (the deploy boundary: tests/test_deploy_boundary.py)."""
    import importlib

    try:
        module = importlib.import_module("poolkeeper_local.commands")
    except ImportError as err:
        raise CliError(f"`poolkeeper {name}` needs the local tools (poolkeeper_local), which this installation "
                       f"lacks: {err}") from err
    return getattr(module, name)


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be > 0 (got {text})")
    return value


def _formatter() -> type[argparse.HelpFormatter]:
    from rich_argparse import RawDescriptionRichHelpFormatter

    return RawDescriptionRichHelpFormatter


def _add_filters(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", metavar="FILE_OR_JSON",
                   help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG), e.g. examples/tutorial.json")
    p.add_argument("--binding", metavar="NAME", help="only this binding, e.g. --binding web")
    p.add_argument("--resource-id", metavar="ID",
                   help="only this resource (a VM, scale set or NIC) or resource group, e.g. "
                        "--resource-id /subscriptions/SUB/resourceGroups/myTutorial8/providers/"
                        "Microsoft.Compute/virtualMachines/myVM4")
    p.add_argument("--json", action="store_true", help="print the outcome as JSON (for scripts)")


def build_parser() -> argparse.ArgumentParser:
    fmt = _formatter()
    settings = Settings.from_env()
    parser = argparse.ArgumentParser(prog="poolkeeper", description=__doc__, epilog=EXAMPLES, formatter_class=fmt)
    parser.add_argument("--version", action="version", version=f"poolkeeper {__version__}")
    parser.add_argument("--log-level", type=str.upper, choices=LEVELS,
                        default=settings.log_level or "WARNING",
                        help="log lines on stderr from this level (default: $POOLKEEPER_LOG_LEVEL or WARNING), "
                             "e.g. --log-level info")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an error")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = sub.add_parser("plan", formatter_class=fmt, help="dry run: what would change and why (no writes)",
                          description="Read Azure, plan every binding, print the changes. Exit 0: nothing refused "
                                      "or reported; 2: something refused or reported.",
                          epilog="example: poolkeeper plan --config examples/tutorial.json --binding web")
    _add_filters(plan)
    apply = sub.add_parser("apply", formatter_class=fmt, help="reconcile now (writes)",
                           description="Plan and apply, each resource one read-modify-write under If-Match. "
                                       "Exit 0: applied or nothing to do; 2: something refused or reported.",
                           epilog="example: poolkeeper apply --config examples/tutorial.json")
    _add_filters(apply)

    check = sub.add_parser("check", formatter_class=fmt,
                           help="run the guardrail catalog read-only over every scope",
                           description="Read every scope with LIST calls and run every enabled guardrail. Exit 0: no "
                                       "finding at or above --fail-on; 2: at least one.",
                           epilog="example: poolkeeper check --config examples/tutorial.json --guardrail PK001 --json")
    check.add_argument("--config", metavar="FILE_OR_JSON",
                       help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG)")
    check.add_argument("--json", action="store_true", help="print {\"findings\": [...]} as JSON")
    check.add_argument("--guardrail", action="append", metavar="ID",
                       help="only this guardrail (repeatable), e.g. PK005")
    check.add_argument("--fail-on", default="high", metavar="SEVERITY",
                       help="lowest severity that makes the exit code 2: info, low, medium, high (default), critical")

    serve = sub.add_parser("serve", formatter_class=fmt,
                           help="run the Functions app locally (HTTP routes, Event Grid webhook, timers)",
                           epilog="example: AZURE_CLIENT_ID=$ARMSIM_POOLKEEPER_CLIENT_ID poolkeeper serve --port 7071")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; another "
                                                           "address needs --function-key)")
    serve.add_argument("--port", type=int, default=7071, help="port (default 7071, as `func start`; 0: a free one)")
    serve.add_argument("--function-key", default=settings.function_key, metavar="KEY",
                       help="key every non-anonymous route requires (default: $POOLKEEPER_FUNCTION_KEY)")
    serve.add_argument("--no-timers", action="store_true", help="do not run the timer functions")
    serve.add_argument("--config", metavar="FILE_OR_JSON",
                       help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG)")

    demo = sub.add_parser("demo", formatter_class=fmt, help="the guided demo on armsim (what `make demo` runs)",
                          epilog="example: poolkeeper demo --time-scale 0.05")
    demo.add_argument("--time-scale", type=_positive, default=0.1,
                      help="armsim time scale, > 0 (0.1: a VM takes 3 s to create instead of 30 s)")

    from poolkeeper import sweep_cli, workflow_cli

    sweep_cli.add_commands(sub)
    workflow_cli.add_commands(sub)
    _style(parser, fmt)
    return parser


WORKFLOW_EXAMPLES = {
    "natpool remove": "poolkeeper natpool remove -g MyResourceGroup --lb-name MyLoadBalancer --nat-pool MyNatPool "
                      "--dry-run",
    "natpool migrate": "poolkeeper natpool migrate -g MyResourceGroup --lb-name MyLoadBalancer --nat-pool MyNatPool "
                       "--backend-pool reuse-matching",
    "rule change-probed-port": "poolkeeper rule change-probed-port -g myTutorial8 --lb-name myLoadBalancer "
                               "--rule myLoadBalancerRule --new-backend-port 8080 --dry-run",
    "operation list": "poolkeeper operation list --stale-after 30",
    "operation show": "poolkeeper operation show 7f68890405ba --json",
    "operation resume": "poolkeeper operation resume 7f68890405ba",
}


def _style(parser: argparse.ArgumentParser, fmt: type[argparse.HelpFormatter]) -> None:
    """The same help formatter, and an example, on every sub-command (the workflow ones are added elsewhere)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                child.formatter_class = fmt
                key = " ".join(child.prog.split()[1:])
                if key in WORKFLOW_EXAMPLES and not child.epilog:
                    child.epilog = "example: " + WORKFLOW_EXAMPLES[key]
                _style(child, fmt)


def dispatch(args: argparse.Namespace) -> int:
    if args.command == "plan":
        return cmd_plan_apply(args, dry_run=True)
    if args.command == "apply":
        return cmd_plan_apply(args, dry_run=False)
    if args.command in ("serve", "demo"):
        return int(dev_command(args.command)(args))
    if args.command == "check":
        from poolkeeper.check_cli import cmd_check

        return cmd_check(args)
    from poolkeeper import sweep_cli, workflow_cli

    preflight()
    if args.command in sweep_cli.COMMANDS:
        return sweep_cli.run(args)
    return int(workflow_cli.run(args))


def _fail(message: str, code: int) -> int:
    print(f"poolkeeper: {message}", file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        configure(args.log_level, console=True)
        if not args.debug and args.log_level != "DEBUG":
            # azure-identity and azure-core log each failed attempt as a multi-line WARNING; the one line below
            # says what to do instead (--debug shows them).
            logging.getLogger("azure").setLevel(logging.ERROR)
        return dispatch(args)
    except CliError as err:
        if args.debug:
            raise
        return _fail(str(err), err.code)
    except ConfigError as err:
        return _fail(f"invalid configuration: {err}", EXIT_FINDINGS)
    except KeyboardInterrupt:
        operation = getattr(args, "operation_started", None)
        if operation:
            return _fail(f"interrupted; operation {operation} is recorded and can continue — resume with: "
                         f"python -m poolkeeper operation resume {operation}", EXIT_INTERRUPTED)
        return _fail("interrupted", EXIT_INTERRUPTED)
    except ValueError as err:
        if args.debug:
            raise
        line = explain(err)
        return _fail(line or str(err), EXIT_FINDINGS if line is None else EXIT_ERROR)
    except Exception as err:
        if args.debug:
            raise
        line = explain(err)
        if line is None:
            first = (str(err).splitlines() or [""])[0]
            line = f"unexpected {type(err).__name__}: {first} (run with --debug for the traceback)"
        return _fail(line, EXIT_ERROR)
