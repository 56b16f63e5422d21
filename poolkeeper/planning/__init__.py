"""The planner: configuration + snapshot → :class:`~poolkeeper.changes.Plan`. Pure and deterministic.

No I/O and no clock (the one time it reads is the snapshot's ``read_at``, ``Context.now``: when Azure was read): the
same inputs always give the same plan (everything is visited sorted by lower-cased id, bindings in configuration
order), so a dry run shows exactly what a real run would do and a re-plan after a successful apply is empty.

Planning is a sequence of declared phases (:data:`PHASES`), each a function ``(Context, Draft) -> Draft`` in its own
module: the context (configuration, snapshot, the resources an event-driven run considers) never changes, and each
phase adds its decisions to a new frozen draft that the later phases read. The order is declared here, once.

Ownership is what keeps poolkeeper from fighting humans: it only ever removes what it can prove it added, i.e.
pool memberships of NICs tagged ``poolkeeper.binding=<binding>`` and NAT rules named ``pk-...``. Pool members
without the tag are left alone (never adopted, never removed). Anything Azure would refuse, or that poolkeeper
will not decide for a human, becomes a :class:`~poolkeeper.findings.Finding` in the plan (``Plan.findings``)
rather than a change that is bound to fail half-way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from poolkeeper.changes import Plan
from poolkeeper.config import Config
from poolkeeper.model import Snapshot
from poolkeeper.planning.context import Context, Draft, tag_value
from poolkeeper.planning.joins import join
from poolkeeper.planning.natstrategy import STRATEGIES, NatStrategy, nat_rule_name_v1, nat_rule_name_v2
from poolkeeper.planning.orphans import keep_wanted_rules, orphans
from poolkeeper.planning.poolrules import want_pool_rules
from poolkeeper.planning.portphase import resolve_ports
from poolkeeper.planning.releases import release
from poolkeeper.planning.scope import scope_to_binding
from poolkeeper.planning.selection import matches, select
from poolkeeper.planning.targets import resolve_targets

Phase = Callable[[Context, Draft], Draft]

#: the planning phases, in the order they run
PHASES: tuple[Phase, ...] = (
    select,             # which binding each VM / scale set belongs to
    release,            # owned NICs and pk- rules nobody needs any more
    resolve_targets,    # each binding with subjects → its load balancer, pool, frontend (or a report)
    want_pool_rules,    # NAT rule V2 per binding whose strategy wants one
    join,               # VMs and scale sets into their pools, per-VM rules, scale-set upgrades
    orphans,            # pk- rules whose NIC is gone or that nobody references
    keep_wanted_rules,  # never delete a rule another subject wants
    resolve_ports,      # frontend ports last: freed ports reused at once, V2 ranges before per-VM ports
)


def plan(config: Config, snapshot: Snapshot, *, only: Iterable[str] | None = None,
         binding: str | None = None) -> Plan:
    """Compute the changes that bring the snapshot in line with the configuration.

    ``only`` restricts the run to these resource ids (VMs, scale sets, NICs, scale-set instances; any casing), for
    event-driven runs on a partial snapshot. ``None`` means a full reconcile of everything in scope.

    ``binding`` restricts the plan to one binding's changes *plus the changes they depend on*
    (:func:`~poolkeeper.planning.scope.scope_to_binding`).
    """
    ctx = Context.of(config, snapshot, only)
    draft = Draft()
    for phase in PHASES:
        draft = phase(ctx, draft)
    full = Plan.of(draft.changes, draft.findings)
    return full if binding is None else scope_to_binding(full, binding, snapshot)


__all__ = ["PHASES", "STRATEGIES", "NatStrategy", "Phase", "matches", "nat_rule_name_v1", "nat_rule_name_v2",
           "plan", "scope_to_binding", "tag_value"]
