"""Enforcement before any change: ``screen(plan, snapshot, config) -> (allowed_plan, refusals)``.

Pure. Each enabled guardrail with a ``screen`` hook names the planned changes that would create or keep a violation
(PK001: joining a NIC with a public IP to a managed pool; PK006: a NAT rule to a management port on a backend open to
the Internet; PK009 has nothing to screen, poolkeeper never creates NAT pools). In ``enforce`` mode those changes are
dropped and the finding is a refusal; in ``audit`` mode the change stays and the finding is a note. The caller logs
refusals at WARNING and lists both in its answer. A guardrail whose snapshot parts were not read is skipped (see
:func:`screen_parts`).
"""

from __future__ import annotations

import dataclasses

from poolkeeper.changes import Plan
from poolkeeper.config import Config
from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View
from poolkeeper.guardrails.runner import needed_parts
from poolkeeper.guardrails.settings import GuardrailSetting, effective
from poolkeeper.model import Snapshot


def screening(config: Config) -> list[GuardrailSetting]:
    """Enabled guardrails that screen changes."""
    return [s for s in effective(config.guardrails).values() if s.enabled and s.guardrail.screen is not None]


def screen_parts(config: Config) -> frozenset[str]:
    """Snapshot parts the enforce-mode screens need: the reconciler reads them only then, so a default
    configuration costs no extra ARM call. Audit-mode screens run when what they need was read anyway (PK001 needs
    nothing beyond the NICs); otherwise their findings come from ``check``."""
    return needed_parts(s for s in screening(config) if s.mode == "enforce")


def screen_findings(plan: Plan, snapshot: Snapshot, config: Config) -> tuple[Plan, list[Finding], list[Finding]]:
    """(allowed plan, refusals of enforce-mode guardrails, notes of audit-mode ones)."""
    view = View(snapshot, config)
    dropped: set[int] = set()
    refusals: list[Finding] = []
    notes: list[Finding] = []
    for s in screening(config):
        assert s.guardrail.screen is not None
        if not s.guardrail.needs <= snapshot.parts:
            continue  # not read for this run: judging without it would be guessing
        for r in s.guardrail.screen(plan.changes, view, s.params):
            finding = dataclasses.replace(r.finding, mode=s.mode)
            if s.mode == "enforce":
                refusals.append(finding)
                dropped |= {id(c) for c in r.changes}
            else:
                notes.append(finding)
    allowed = plan.with_changes(c for c in plan.changes if id(c) not in dropped) if dropped else plan
    return allowed, refusals, notes


def screen(plan: Plan, snapshot: Snapshot, config: Config) -> tuple[Plan, list[Finding]]:
    allowed, refusals, _ = screen_findings(plan, snapshot, config)
    return allowed, refusals
