"""Microsoft.Network providers for armsim: one module per resource type, each provider class ``@registered``."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from armsim.simulator import Runtime


def install(rt: Runtime) -> None:
    from armsim.provider import providers_in

    for provider in providers_in("armsim.network"):
        rt.engine.register(provider)
