"""The guardrail registry: each guardrail is one module that registers itself with :func:`guardrail`.

Modelled on Cloud Custodian's c7n_azure registries (a filter class registered under a name, with a JSON schema for
its parameters, validated before anything runs): here a guardrail is a ``check(view, params)`` function registered
with its id, title, source passage, severity, default mode and a JSON schema of its parameters, plus optional
hooks — ``fix(finding)`` (the changes that repair it, where a safe repair exists; sweeps use it) and
``screen(changes, view, params)`` (which planned changes would create or keep a violation; the enforcement screen
uses it). Parameters are validated with ``jsonschema`` when the configuration is loaded.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from poolkeeper.findings import MODES, SEVERITIES, Finding

if TYPE_CHECKING:
    from poolkeeper.changes import Change
    from poolkeeper.config import Config
    from poolkeeper.model import Snapshot


@dataclass(frozen=True)
class View:
    """What a check looks at: the snapshot (with the network parts it declared in ``needs``) and the
    configuration (bindings say which pools are managed and which NAT port ranges are poolkeeper's)."""

    snapshot: Snapshot
    config: Config


@dataclass(frozen=True)
class Refusal:
    """A finding about planned changes, and the changes that would create or keep the violation."""

    finding: Finding
    changes: tuple[Change, ...]


CheckFn = Callable[[View, Mapping[str, Any]], Iterable[Finding]]
FixFn = Callable[[Finding], Sequence["Change"]]
ScreenFn = Callable[[Sequence["Change"], View, Mapping[str, Any]], Iterable[Refusal]]


@dataclass(frozen=True)
class Guardrail:
    id: str
    title: str
    source: str
    severity: str
    default_mode: str
    params_schema: Mapping[str, Any]
    check: CheckFn
    modes: tuple[str, ...] = MODES
    needs: frozenset[str] = frozenset()
    fix: FixFn | None = None
    screen: ScreenFn | None = None
    fix_hint: str = ""

    def defaults(self) -> dict[str, Any]:
        props = self.params_schema.get("properties") or {}
        return {k: v["default"] for k, v in props.items() if isinstance(v, Mapping) and "default" in v}


REGISTRY: dict[str, Guardrail] = {}


def guardrail(*, id: str, title: str, source: str, severity: str, default_mode: str = "audit",
              params_schema: Mapping[str, Any] | None = None, modes: tuple[str, ...] = MODES,
              needs: Iterable[str] = (), fix: FixFn | None = None, screen: ScreenFn | None = None,
              fix_hint: str = "") -> Callable[[CheckFn], CheckFn]:
    """Register ``check`` as guardrail ``id``. Ids are interface (configuration and alerts use them): never reuse
    or renumber one."""
    if severity not in SEVERITIES:
        raise ValueError(f"{id}: severity {severity!r} is not one of {SEVERITIES}")
    if default_mode not in modes:
        raise ValueError(f"{id}: default mode {default_mode!r} is not one of its modes {modes}")
    schema: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False,
                              **(params_schema or {})}

    def register(check: CheckFn) -> CheckFn:
        if id in REGISTRY and REGISTRY[id].check is not check:
            raise ValueError(f"guardrail {id} is registered twice")
        REGISTRY[id] = Guardrail(id=id, title=title, source=source, severity=severity, default_mode=default_mode,
                                 params_schema=schema, check=check, modes=modes, needs=frozenset(needs), fix=fix,
                                 screen=screen, fix_hint=fix_hint)
        return check

    return register


def found(guardrail_id: str, resource_id: str, message: str, *, fix: str, evidence: Mapping[str, Any] | None = None,
          binding: str | None = None, severity: str | None = None) -> Finding:
    """A finding of a registered guardrail (its severity unless overridden; the mode is set by the runner)."""
    g = REGISTRY[guardrail_id]
    return Finding(guardrail=guardrail_id, severity=severity or g.severity, mode=g.default_mode,
                   resource_id=resource_id, message=message, evidence=dict(evidence or {}), fix=fix, binding=binding)
