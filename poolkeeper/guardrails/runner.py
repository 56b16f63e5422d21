"""Running the catalog over a view: every enabled guardrail (or the ones asked for), findings in a stable order."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View
from poolkeeper.guardrails.settings import GuardrailSetting


def selected(settings: Mapping[str, GuardrailSetting], only: Iterable[str] | None = None) -> list[GuardrailSetting]:
    """Enabled guardrails, restricted to ``only`` (ids) when given; an unknown id in ``only`` is a ValueError."""
    wanted = None if only is None else [o.upper() for o in only]
    if wanted is not None:
        unknown = sorted(set(wanted) - set(settings))
        if unknown:
            raise ValueError(f"unknown guardrail(s) {', '.join(unknown)}; known: {', '.join(sorted(settings))}")
    return [s for gid, s in sorted(settings.items()) if s.enabled and (wanted is None or gid in wanted)]


def needed_parts(settings: Iterable[GuardrailSetting]) -> frozenset[str]:
    """The snapshot parts (beyond VMs, NICs, load balancers, scale sets) the given guardrails read."""
    out: set[str] = set()
    for s in settings:
        out |= s.guardrail.needs
    return frozenset(out)


def run_checks(view: View, settings: Iterable[GuardrailSetting]) -> list[Finding]:
    findings: list[Finding] = []
    for s in settings:
        for f in s.guardrail.check(view, s.params):
            findings.append(dataclasses.replace(f, mode=s.mode))
    return sorted(findings, key=lambda f: f.sort_key)
