"""``python -m poolkeeper check``: the guardrail catalog, read-only, every scope. Exit 0 when no finding is at or
above ``--fail-on`` (default high), 2 when one is (1 is left to errors)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from poolkeeper.checks import check_scopes


def print_findings(answer: dict[str, Any], out: Any = sys.stdout) -> None:
    findings = answer["findings"]
    if not findings:
        print("no findings: every enabled guardrail passes", file=out)
    for f in findings:
        short = f["resourceId"].rstrip("/").rsplit("/", 1)[-1]
        print(f"{f['guardrail']} {f['severity']:<6} {f['mode']:<7} {short}: {f['message']}", file=out)
        print(f"       fix: {f['fix']}", file=out)
    counts = ", ".join(f"{k}: {v}" for k, v in answer["summary"].items()) or "none"
    print(f"{len(findings)} finding(s) ({counts}); fail on {answer['failOn']}: "
          f"{'FAILED' if answer['failed'] else 'ok'}", file=out)


def cmd_check(args: argparse.Namespace) -> int:
    from poolkeeper.composition import build

    app = build(config_source=args.config)
    try:
        answer = check_scopes(app.require_reconciler(), args.guardrail, args.fail_on)
    finally:
        app.close()
    if args.json:
        print(json.dumps(answer, indent=2))
    else:
        print_findings(answer)
    return 2 if answer["failed"] else 0
