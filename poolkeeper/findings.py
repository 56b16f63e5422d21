"""One :class:`Finding` type for every refusal, note and report poolkeeper makes.

A finding says which rule (a guardrail id such as ``PK006``, or a planner code such as ``NatPoolPresent``), how bad
(``severity``), in which mode it was raised (``audit`` reports, ``enforce`` also refuses), about which resource,
what was seen (``evidence``) and what to do (``fix``). The guardrail catalog (``poolkeeper.guardrails``), the
enforcement screen (``poolkeeper.guardrails.screen``), the workflows' refusals and notes
(``poolkeeper.workflows.preconditions``) and the planner use it: what the planner refuses or only flags travels in
its plan as findings (``changes.Plan.findings``, made by :func:`planner_finding`), next to the changes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
MODES: tuple[str, ...] = ("audit", "enforce", "off")
#: the severity of a planner finding (UNCONFIRMED: a poolkeeper choice, no Azure source): a binding is not fully in
#: force until someone acts, but nothing is broken by poolkeeper
PLANNER_SEVERITY = "medium"


def severity_rank(severity: str) -> int:
    """Position of a severity in :data:`SEVERITIES` (raises ValueError naming the valid ones)."""
    try:
        return SEVERITIES.index(severity.lower())
    except ValueError:
        raise ValueError(f"unknown severity {severity!r}; use one of {', '.join(SEVERITIES)}") from None


@dataclass(frozen=True, kw_only=True)
class Finding:
    """Something a rule found about one resource. Immutable and JSON-ready (:meth:`to_dict`)."""

    guardrail: str
    severity: str
    mode: str
    resource_id: str
    message: str
    evidence: Mapping[str, Any] = field(default_factory=dict)
    fix: str = ""
    binding: str | None = None

    def at_least(self, severity: str) -> bool:
        return severity_rank(self.severity) >= severity_rank(severity)

    @property
    def sort_key(self) -> tuple[str, str, str]:
        return (self.guardrail, self.resource_id.lower(), self.message)

    @property
    def identity(self) -> tuple[str, ...]:
        """What was found, without for which binding: two findings with the same identity say the same thing."""
        return (self.guardrail, self.severity, self.mode, self.resource_id, self.message, self.fix,
                json.dumps(self.evidence, sort_keys=True, default=str))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"guardrail": self.guardrail, "severity": self.severity, "mode": self.mode,
                               "resourceId": self.resource_id, "message": self.message,
                               "evidence": dict(self.evidence), "fix": self.fix}
        if self.binding is not None:
            out["binding"] = self.binding
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(guardrail=str(data["guardrail"]), severity=str(data["severity"]), mode=str(data["mode"]),
                   resource_id=str(data["resourceId"]), message=str(data["message"]),
                   evidence=dict(data.get("evidence") or {}), fix=str(data.get("fix") or ""),
                   binding=data.get("binding"))

    def describe(self) -> str:
        short = self.resource_id.rstrip("/").rsplit("/", 1)[-1]
        return f"{self.guardrail} [{self.severity}/{self.mode}] {short}: {self.message}"


def planner_finding(code: str, resource_id: str, message: str, *, binding: str) -> Finding:
    """What the planner refuses or only flags (``code``: ``NatPoolPresent``, ``PortRangeExhausted`` …). It changes
    nothing for its resource, so its mode is ``audit``; the message says what to do."""
    return Finding(guardrail=code, severity=PLANNER_SEVERITY, mode="audit", resource_id=resource_id, message=message,
                   binding=binding)
