"""NAT-pool workflows: remove a NAT pool, migrate it to a NAT rule V2, change a probed rule's backend port.

Each is a registered, level-triggered state machine (one module each, ``@workflow`` in :mod:`.registry`): a pure
``resolve`` checks a new request and fixes its open choices, a pure ``next_steps`` says what is left from a snapshot
of Azure; the runner does the first step and looks again. The intent is recorded on the load balancer, backups and
progress in an operation store, and a dry run checks what Azure would refuse. Importing this package registers the
RBAC actions of the ARM calls the workflows make (``ArmGateway`` methods, decorated with ``needs_actions``); each
workflow module is imported, and registered, when it is first asked for (``registry.get``).
"""

from poolkeeper import gateway as _gateway  # noqa: F401  (registers the ARM calls' RBAC actions)
from poolkeeper.workflows.intents import INTENT_TAG, BadRequest, Intent
from poolkeeper.workflows.operations import Workflows
from poolkeeper.workflows.registry import KINDS

__all__ = ["INTENT_TAG", "KINDS", "BadRequest", "Intent", "Workflows"]
