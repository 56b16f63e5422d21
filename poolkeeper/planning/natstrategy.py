"""NAT rules behind a strategy: one per-VM rule (V1) or one NAT rule V2 over the binding's pool.

A binding's ``natRule.mode`` names its strategy in :data:`STRATEGIES`; the phases ask the strategy, never the mode.
A new way of giving NAT access is one class here (and its test), registered under its mode.
"""

from __future__ import annotations

from typing import Protocol

from poolkeeper.changes import RULE_PREFIX
from poolkeeper.config import Binding, NatRuleConfig
from poolkeeper.natrules import NAT_POOL_RETIREMENT_FACT


def nat_rule_name_v1(vm_name: str, backend_port: int) -> str:
    """Name of a VM's per-VM NAT rule; the ``pk-`` prefix marks poolkeeper ownership."""
    return f"{RULE_PREFIX}{vm_name}-{backend_port}"


def nat_rule_name_v2(binding_name: str, backend_port: int) -> str:
    """Name of a binding's NAT rule V2 over its pool."""
    return f"{RULE_PREFIX}{binding_name}-{backend_port}"


class NatStrategy(Protocol):
    """What the phases need to know about a binding's way of giving NAT access."""

    mode: str

    def vm_rule_name(self, vm_name: str, nat: NatRuleConfig) -> str | None:
        """The per-VM rule this strategy wants for a VM of the binding (None: no per-VM rule)."""

    def serves_vm_rule(self, rule_name: str, nat: NatRuleConfig) -> bool:
        """Whether a ``pk-{vm}-{port}`` rule of another VM would be one of this binding's per-VM rules."""

    def wants_pool_rule(self, *, has_vms: bool, has_scale_sets: bool) -> bool:
        """Whether the binding needs its NAT rule V2 over the pool, given which subjects it has in the run."""

    def scale_set_note(self, scale_set_name: str, binding: Binding) -> tuple[str, str] | None:
        """(code, message) to report for a Uniform scale set of the binding, or None."""


class PerVmRules:
    """V1: one ``pk-{vm}-{port}`` rule per VM with a port of its own; scale sets still get a NAT rule V2 (Azure
    has no per-instance V1 rule but NAT pools, which poolkeeper never creates)."""

    mode = "v1"

    def vm_rule_name(self, vm_name: str, nat: NatRuleConfig) -> str | None:
        return nat_rule_name_v1(vm_name, nat.backend_port)

    def serves_vm_rule(self, rule_name: str, nat: NatRuleConfig) -> bool:
        return rule_name.lower().endswith(f"-{nat.backend_port}")

    def wants_pool_rule(self, *, has_vms: bool, has_scale_sets: bool) -> bool:
        return has_scale_sets

    def scale_set_note(self, scale_set_name: str, binding: Binding) -> tuple[str, str] | None:
        return ("NatRuleV1OnScaleSet",
                f"binding {binding.name} asks for per-VM NAT rules (v1) but {scale_set_name} is a Uniform scale set; "
                f"poolkeeper uses one NAT rule V2 over the pool instead and never creates NAT pools "
                f"({NAT_POOL_RETIREMENT_FACT}); set natRule.mode to \"v2\" to silence this")


class PoolRule:
    """V2: one ``pk-{binding}-{port}`` NAT rule V2 over the pool; Azure maps its port range to the members."""

    mode = "v2"

    def vm_rule_name(self, vm_name: str, nat: NatRuleConfig) -> str | None:
        return None

    def serves_vm_rule(self, rule_name: str, nat: NatRuleConfig) -> bool:
        return False

    def wants_pool_rule(self, *, has_vms: bool, has_scale_sets: bool) -> bool:
        return has_vms or has_scale_sets

    def scale_set_note(self, scale_set_name: str, binding: Binding) -> tuple[str, str] | None:
        return None


STRATEGIES: dict[str, NatStrategy] = {s.mode: s for s in (PerVmRules(), PoolRule())}


def strategy_of(binding: Binding) -> NatStrategy | None:
    """The binding's NAT strategy (None: it manages no NAT rules)."""
    return None if binding.nat_rule is None else STRATEGIES[binding.nat_rule.mode]
