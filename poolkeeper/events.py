"""The Event Grid events poolkeeper reacts to.

One list, used by the ``on_resource_event`` handler to decide what to handle and by the infra test that checks the
Bicep event-subscription filter delivers exactly these (and nothing poolkeeper would ignore).
"""

from __future__ import annotations

# The event type strings of Microsoft's own catalogue of system events (azure-eventgrid's
# SystemEventNames.ResourceWriteSuccessEventName / ResourceDeleteSuccessEventName, generated from the Event Grid
# data-plane spec). Literals here keep azure-eventgrid off the app's cold import path; a unit test checks them against
# SystemEventNames, so a typo cannot silently filter every event out.
HANDLED_EVENT_TYPES: tuple[str, ...] = (
    "Microsoft.Resources.ResourceWriteSuccess",
    "Microsoft.Resources.ResourceDeleteSuccess",
)

HANDLED_OPERATION_NAMES: tuple[str, ...] = (
    "Microsoft.Compute/virtualMachines/write",
    "Microsoft.Compute/virtualMachines/delete",
    "Microsoft.Compute/virtualMachineScaleSets/write",
    "Microsoft.Compute/virtualMachineScaleSets/delete",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/write",
    "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/delete",
    "Microsoft.Network/networkInterfaces/write",
    "Microsoft.Network/networkInterfaces/delete",
)
