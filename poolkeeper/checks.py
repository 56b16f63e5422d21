"""``check``: run the guardrail catalog read-only over every scope (CLI ``python -m poolkeeper check``,
``POST /api/check``).

The pure part is :func:`check` (configuration + snapshot → the JSON answer); :func:`check_scopes` reads one
snapshot per subscription with LIST calls only (the network parts the selected guardrails need, nothing more).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from poolkeeper.config import Config
from poolkeeper.findings import Finding, severity_rank
from poolkeeper.guardrails.registry import View
from poolkeeper.guardrails.runner import needed_parts, run_checks, selected
from poolkeeper.guardrails.settings import effective
from poolkeeper.logs import get_logger
from poolkeeper.model import Snapshot
from poolkeeper.reader import read_snapshot, scopes_for_run
from poolkeeper.reconciler import Reconciler

log = get_logger("check")
DEFAULT_FAIL_ON = "high"


def findings_for(config: Config, snapshot: Snapshot, guardrails: Iterable[str] | None = None) -> list[Finding]:
    return run_checks(View(snapshot, config), selected(effective(config.guardrails), guardrails))


def answer(findings: Sequence[Finding], fail_on: str = DEFAULT_FAIL_ON) -> dict[str, Any]:
    """The JSON answer: every finding, and whether any is at or above ``fail_on``."""
    rank = severity_rank(fail_on)
    failing = [f for f in findings if severity_rank(f.severity) >= rank]
    return {"findings": [f.to_dict() for f in findings], "failOn": fail_on.lower(), "failed": bool(failing),
            "summary": _summary(findings)}


def check(config: Config, snapshot: Snapshot, guardrails: Iterable[str] | None = None,
          fail_on: str = DEFAULT_FAIL_ON) -> dict[str, Any]:
    """Configuration + snapshot → ``{"findings": [...], "failOn", "failed", "summary"}``. Pure."""
    return answer(findings_for(config, snapshot, guardrails), fail_on)


def check_scopes(reconciler: Reconciler, guardrails: Iterable[str] | None = None,
                 fail_on: str = DEFAULT_FAIL_ON) -> dict[str, Any]:
    """Read every scope (one snapshot per subscription, LIST calls only) and check it."""
    config = reconciler.config
    only = list(guardrails) if guardrails is not None else None
    settings = selected(effective(config.guardrails), only)
    severity_rank(fail_on)  # a bad threshold fails before any read
    findings: list[Finding] = []
    for sub in reconciler.subscriptions():
        gw = reconciler.gateway(sub)
        snapshot = read_snapshot(gw, config, scopes_for_run(config, sub), needed_parts(settings))
        found = run_checks(View(snapshot, config), settings)
        log.info("checked", extra={"subscription": sub, "findings": len(found), "arm_calls": dict(gw.calls),
                                   "correlation_id": gw.correlation_id})
        findings += found
    return answer(sorted(findings, key=lambda f: f.sort_key), fail_on)


def _summary(findings: Sequence[Finding]) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in findings:
        out[f.guardrail] = out.get(f.guardrail, 0) + 1
    return dict(sorted(out.items()))
