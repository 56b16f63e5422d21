"""The planner's structure: declared phases over an immutable context, strategies and registries that stay complete."""

from __future__ import annotations

import dataclasses

import pytest

from poolkeeper.changes import CHANGE_TYPES, STAGES
from poolkeeper.config import NAT_MODES, Config
from poolkeeper.executor import BATCH_WRITERS, RMW_DOORS
from poolkeeper.mutations import EDITS
from poolkeeper.planning import PHASES, STRATEGIES, plan
from poolkeeper.planning.context import Context, Draft

from . import builders as B


def _config() -> Config:
    return B.config(B.binding("web", match={"availabilitySet": "myAvailabilitySet"}, nat=B.ssh()))


def test_every_nat_mode_the_configuration_accepts_has_a_strategy() -> None:
    assert set(NAT_MODES) == set(STRATEGIES)
    assert all(STRATEGIES[mode].mode == mode for mode in NAT_MODES)


def test_every_change_kind_has_a_stage_and_a_way_to_azure() -> None:
    """A new change kind without a registered edit (or batch writer) fails here, not in production."""
    assert set(CHANGE_TYPES) >= {"JoinPool", "CreateNatRule", "UpgradeInstances"}
    # bases that only share fields are not kinds; what the planner reports is a Finding, not a change
    assert not set(CHANGE_TYPES) & {"NicChange", "LoadBalancerChange", "NatRuleChange", "ScaleSetChange",
                                    "OperationChange", "LoadBalancerOperationChange", "ScaleSetOperationChange",
                                    "Report"}
    for name, kind in CHANGE_TYPES.items():
        assert kind.stage in STAGES, name
        assert kind.target_field in {f.name for f in dataclasses.fields(kind)}, name  # what target_id reads
        assert kind.target_kind in BATCH_WRITERS, name
        if kind.target_kind in RMW_DOORS:  # a read-modify-write needs its edit; actions (upgrades, waits) do not
            assert kind in EDITS, name


def test_phases_are_pure_functions_of_context_and_draft() -> None:
    """Each phase returns a new draft and leaves its input as it was; running it again gives the same draft."""
    ctx = Context.of(_config(), B.snapshot(**B.tutorial(3)), None)
    draft = Draft()
    for phase in PHASES:
        before = dataclasses.replace(draft)
        after = phase(ctx, draft)
        assert draft == before, phase.__name__
        assert phase(ctx, draft) == after, phase.__name__
        draft = after
    with pytest.raises(dataclasses.FrozenInstanceError):
        draft.changes = ()  # type: ignore[misc]


def test_running_the_declared_phases_is_the_plan() -> None:
    cfg, snap = _config(), B.snapshot(**B.tutorial(3))
    ctx, draft = Context.of(cfg, snap, None), Draft()
    for phase in PHASES:
        draft = phase(ctx, draft)
    p = plan(cfg, snap)
    assert set(draft.changes) == set(p.changes) and len(p.changes) == 9  # 3 joins, 3 rules, 3 assignments


def test_ports_are_resolved_last() -> None:
    """Without the joins before it, the port phase has nothing to allocate: it only reads what they asked for."""
    ctx = Context.of(_config(), B.snapshot(**B.tutorial(3)), None)
    assert PHASES[-1].__name__ == "resolve_ports"
    assert PHASES[-1](ctx, Draft()).changes == ()
