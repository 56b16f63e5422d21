"""The registry of Azure RBAC actions that poolkeeper's ARM calls need.

Every executor function that talks to Azure Resource Manager is decorated with :func:`needs_actions`, naming the
RBAC actions the call requires (a NIC write that references a backend pool also needs the pool's ``join/action``).
The custom role in ``infra/`` is checked against :func:`required_actions`, so the role is derived from the code
that makes the calls rather than maintained by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

_REGISTRY: dict[str, frozenset[str]] = {}

F = TypeVar("F", bound=Callable[..., object])


def needs_actions(*actions: str) -> Callable[[F], F]:
    """Record that the decorated ARM-calling function needs these RBAC actions."""

    def decorate(func: F) -> F:
        _REGISTRY[f"{func.__module__}.{func.__qualname__}"] = frozenset(actions)
        return func

    return decorate


def required_actions() -> frozenset[str]:
    """All RBAC actions needed by the registered ARM calls (import the executor modules first)."""
    out: set[str] = set()
    for actions in _REGISTRY.values():
        out |= actions
    return frozenset(out)


def registered_calls() -> dict[str, frozenset[str]]:
    """Which function needs which actions; for documentation and the role test's error messages."""
    return dict(_REGISTRY)
