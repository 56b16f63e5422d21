"""Microsoft.Compute providers for armsim: availability sets, VMs, scale sets, their instances and instance NICs.

Every ``@registered`` provider of this package is installed; besides them, compute adds its rate-limit response
headers and the platform image catalog route.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from armsim.simulator import Runtime


def install(rt: Runtime) -> None:
    from armsim.compute.images import ImageCatalog
    from armsim.compute.ratelimit import ComputeRateLimits
    from armsim.provider import providers_in

    engine = rt.engine
    for provider in providers_in("armsim.compute"):
        engine.register(provider)
    engine.response_hooks.append(ComputeRateLimits(rt.config))
    engine.routes.append(ImageCatalog(engine))
