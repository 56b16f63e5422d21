"""Microsoft.Compute providers for armsim: availability sets, VMs, scale sets, their instances and instance NICs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from armsim.simulator import Runtime


def install(rt: Runtime) -> None:
    from armsim.compute.availability_sets import AvailabilitySetProvider
    from armsim.compute.ratelimit import ComputeRateLimits
    from armsim.compute.vms import VirtualMachineInstanceViewProvider, VirtualMachineProvider
    from armsim.compute.vmss import ScaleSetInstanceViewProvider, ScaleSetProvider
    from armsim.compute.vmss_nics import ALL as NIC_PROVIDERS
    from armsim.compute.vmss_vms import ScaleSetVMInstanceViewProvider, ScaleSetVMProvider

    engine = rt.engine
    for provider in (
        AvailabilitySetProvider(),
        VirtualMachineProvider(),
        VirtualMachineInstanceViewProvider(),
        ScaleSetProvider(),
        ScaleSetInstanceViewProvider(),
        ScaleSetVMProvider(),
        ScaleSetVMInstanceViewProvider(),
        *(cls() for cls in NIC_PROVIDERS),
    ):
        engine.register(provider)
    engine.response_hooks.append(ComputeRateLimits(rt.config))
    from armsim.compute.images import ImageCatalog

    engine.routes.append(ImageCatalog(engine))
