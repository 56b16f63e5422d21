"""NAT-pool workflows: remove a NAT pool, migrate it to a NAT rule V2, change a probed rule's backend port.

Each is a level-triggered state machine (``state.plan`` decides the next step from a snapshot of Azure; the runner
does it and looks again), with its intent recorded on the load balancer, backups and progress in an operation store,
and a dry run that checks what Azure would refuse. Importing this package registers the RBAC actions of the ARM
calls it makes (they are ``ArmGateway`` methods, decorated with ``needs_actions``).
"""

from poolkeeper import gateway as _gateway  # noqa: F401  (registers the ARM calls' RBAC actions)
from poolkeeper.workflows.api import Workflows
from poolkeeper.workflows.intents import INTENT_TAG, KINDS, BadRequest, Intent

__all__ = ["INTENT_TAG", "KINDS", "BadRequest", "Intent", "Workflows"]
