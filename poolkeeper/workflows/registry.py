"""The workflows by name: each is one module that registers itself with ``@workflow(name, schema=..., next_steps=...)``.

A workflow is a state machine over a snapshot of Azure, given as two pure functions:

- ``resolve(intent, snapshot) -> (resolved_intent, findings)`` checks a *new* operation (every refusal Azure would
  make, and notes) and fixes the choices its request leaves open (which backend pool, which probe, which scale
  sets). It returns a NEW intent; the one passed in is not changed, so the recorded intent is exactly what was
  resolved and a resumed run makes the same choices. A module writes the check (``@workflow`` on it) and the
  registry makes it this pure function.
- ``next_steps(intent, snapshot) -> steps`` answers "what is left?" from the snapshot alone; empty means done.

``schema`` is the request's JSON schema (the one the HTTP edge documents and checks); :func:`parse_request
<poolkeeper.workflows.intents.parse_request>` validates against it. A new workflow is one module in this package
named after its kind (listed in :data:`KINDS`), plus its tests in ``tests/workflows/``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.model import Snapshot
from poolkeeper.workflows import preconditions as pre
from poolkeeper.workflows.intents import Intent
from poolkeeper.workflows.step import Step

Schema = dict[str, Any]
Resolve = Callable[[Intent, Snapshot], tuple[Intent, list[Finding]]]
NextSteps = Callable[[Intent, Snapshot], list[Step]]


Check = Callable[[Intent, dict[str, Any], Snapshot, list[Finding]], None]


@dataclass(frozen=True)
class Workflow:
    name: str
    schema: Schema
    resolve: Resolve
    next_steps: NextSteps


#: the workflows there are; each is the module ``poolkeeper.workflows.<kind with underscores>``, imported (and so
#: registered) the first time it is asked for — importing the package itself stays light and free of cycles
KINDS: tuple[str, ...] = ("remove-natpool", "migrate-natpool", "change-probed-port")

#: the workflows registered so far by kind, filled by :func:`workflow`; ask :func:`get`
WORKFLOWS: dict[str, Workflow] = {}


def workflow(name: str, *, schema: Schema, next_steps: NextSteps) -> Callable[[Check], Resolve]:
    """Register the workflow ``name``. The decorated function checks a new request: it appends findings and writes
    the resolved choices into ``params``, a copy of the intent's; it becomes the pure ``resolve``, which returns a new
    intent with those params and leaves the one passed in as it was."""
    def register(check: Check) -> Resolve:
        def resolve(intent: Intent, snap: Snapshot) -> tuple[Intent, list[Finding]]:
            params = dict(intent.params)
            found: list[Finding] = []
            check(intent, params, snap, found)
            return replace(intent, params=params), found

        resolve.__doc__ = check.__doc__
        WORKFLOWS[name] = Workflow(name, schema, resolve, next_steps)
        return resolve
    return register


def get(kind: str) -> Workflow:
    """The workflow ``kind`` (its module imported on first use). Raises ValueError for an unknown kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown workflow {kind!r}; there are: {', '.join(KINDS)}")
    if kind not in WORKFLOWS:
        importlib.import_module(f"poolkeeper.workflows.{kind.replace('-', '_')}")
    return WORKFLOWS[kind]


def resolve(intent: Intent, snap: Snapshot) -> tuple[Intent, list[Finding]]:
    """Check a new operation: what every workflow checks (the load balancer, scope, another operation recorded,
    the named scale sets), then the workflow's own ``resolve``. Returns a new intent and the findings."""
    own = replace(intent, params=dict(intent.params))
    findings = pre.common(own, snap)
    if snap.focus_lb is None or snap.out_of_scope:  # nothing else is judged on a missing or partial view
        return own, findings
    resolved, more = get(intent.kind).resolve(own, snap)
    return resolved, findings + more


def next_steps(intent: Intent, snap: Snapshot) -> list[Step]:
    """Every step still to do, in order (empty: the operation is finished and its record cleared)."""
    if snap.focus_lb is None:
        raise ValueError(f"load balancer {intent.load_balancer} does not exist (or poolkeeper cannot read it)")
    return get(intent.kind).next_steps(intent, snap)
