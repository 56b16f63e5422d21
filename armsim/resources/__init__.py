"""Microsoft.Resources for armsim beyond resource groups: template deployments and the generic resource listing."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from armsim.simulator import Runtime


def install(rt: Runtime) -> None:
    from armsim.resources.routes import ResourcesRoutes

    rt.engine.routes.append(ResourcesRoutes(rt.engine))
