"""NAT-pool workflows: remove a NAT pool, migrate it to a NAT rule V2, change a probed rule's backend port.

Each is a registered, level-triggered state machine (one module each, ``@workflow`` in :mod:`.registry`): a pure
``resolve`` checks a new request and fixes its open choices, a pure ``next_steps`` says what is left from a snapshot
of Azure; the runner does the first step and looks again. The intent is recorded on the load balancer, backups and
progress in an operation store, and a dry run checks what Azure would refuse. Importing this package registers the
workflows and the RBAC actions of the ARM calls they make (``ArmGateway`` methods, decorated with ``needs_actions``).
"""

from poolkeeper import gateway as _gateway  # noqa: F401  (registers the ARM calls' RBAC actions)
from poolkeeper.workflows import change_probed_port as _change_probed_port  # noqa: F401  (registers the workflow)
from poolkeeper.workflows import migrate_natpool as _migrate_natpool  # noqa: F401  (registers the workflow)
from poolkeeper.workflows import remove_natpool as _remove_natpool  # noqa: F401  (registers the workflow)
from poolkeeper.workflows.intents import INTENT_TAG, BadRequest, Intent
from poolkeeper.workflows.operations import Workflows
from poolkeeper.workflows.registry import WORKFLOWS

KINDS = tuple(WORKFLOWS)

__all__ = ["INTENT_TAG", "KINDS", "WORKFLOWS", "BadRequest", "Intent", "Workflows"]
