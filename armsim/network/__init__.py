"""Microsoft.Network providers for armsim."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from armsim.simulator import Runtime


def install(rt: Runtime) -> None:
    from armsim.network import providers

    for provider in providers.all_providers():
        rt.engine.register(provider)
