"""``python -m poolkeeper sweep [--apply] [--json] [--html FILE]`` and ``python -m poolkeeper drain|restore VM_ID``.

``sweep`` is a dry run unless ``--apply``; it prints the run report as ``rich`` tables (or JSON) and writes the HTML
page with ``--html``. Exit codes (as the rest of the CLI): 0 done; 2 something refused (by a guardrail, by Azure, by
the breaker, or a drain/restore poolkeeper refuses — nothing changed then) or bad input; 1 an error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from poolkeeper.workflows.operations import Workflows

from poolkeeper.reconciler import Reconciler

COMMANDS = ("sweep", "drain", "restore")


def add_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sweep = sub.add_parser("sweep", help="compliance sweep: every guardrail, safe repairs, bindings, within limits "
                                         "(dry run unless --apply)")
    sweep.add_argument("--config", help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG)")
    sweep.add_argument("--apply", action="store_true", help="apply the repairs (default: dry run)")
    sweep.add_argument("--json", action="store_true", help="print the run report as JSON (report.schema.json)")
    sweep.add_argument("--html", metavar="FILE", help="also write the report as a self-contained HTML page")
    for name, text in (("drain", "take a VM out of rotation for maintenance (recorded on its NIC)"),
                       ("restore", "put a drained VM back exactly as it was")):
        p = sub.add_parser(name, help=text)
        p.add_argument("vm_id", metavar="VM_ID", help="the virtual machine's resource id")
        p.add_argument("--config", help="configuration file or inline JSON (default: $POOLKEEPER_CONFIG)")
        p.add_argument("--dry-run", action="store_true", help="say what would be done; change nothing")


def run(args: argparse.Namespace) -> int:
    from poolkeeper.composition import build

    app = build(config_source=args.config)
    try:
        if args.command == "sweep":
            return _sweep(app.require_reconciler(), args, app.workflows)
        return _maintenance(app.require_reconciler(), args)
    finally:
        app.close()


def _sweep(reconciler: Reconciler, args: argparse.Namespace, workflows: Workflows) -> int:
    from poolkeeper.report_render import print_report, render_html
    from poolkeeper.sweep import run_sweep

    report = run_sweep(reconciler, apply=args.apply, workflows=workflows)
    if args.html:
        Path(args.html).write_text(render_html(report), encoding="utf-8")
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print_report(report)
    refused = report.summary["breakerTripped"] or bool(report.changes["refused"])
    return 2 if refused else 0


def _maintenance(reconciler: Reconciler, args: argparse.Namespace) -> int:
    from poolkeeper.drain import Maintenance
    from poolkeeper.edge.errors import Forbidden, InvalidRequest, NotFound
    from poolkeeper.maintenance import MaintenanceRefused

    m = Maintenance(reconciler)
    try:
        answer = (m.drain if args.command == "drain" else m.restore)(args.vm_id, dry_run=args.dry_run)
    except (MaintenanceRefused, Forbidden, NotFound, InvalidRequest) as err:
        print(f"poolkeeper {args.command}: refused: {err}", file=sys.stderr)
        return 2
    print(json.dumps(answer, indent=2))
    return 0
