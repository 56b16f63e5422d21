"""PK013: a VM (or scale set) matched by a binding is not in its pool or lacks its NAT rule (drift).

Sources: seed 000, "Add all VMs in the availability set to the back-end address pool of the load balancer" and "To
route traffic to a specific VM, use NAT rules ... Assign the NAT rules to the NICs on the VMs"; seed 003 takes a VM
out of the pool for maintenance and puts it back. Drift is exactly what the planner would change to join subjects
and give them NAT access, so this guardrail asks the planner (one definition of "wired"); its fix is those changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from poolkeeper.changes import (
    AssignNatRule,
    Change,
    CreateNatRule,
    EnsureNatRuleV2,
    JoinPool,
    SetScaleSetModelPool,
    change_from_dict,
)
from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail
from poolkeeper.maintenance import REMOVED_CODE
from poolkeeper.planner import plan

ID = "PK013"
FIX = "python -m poolkeeper apply (or wait for the next event or sweep): poolkeeper wires it"
FIX_REMOVED = ("python -m poolkeeper restore <vm id> when the work is done (or set the binding's repair: always to "
               "have poolkeeper put it back)")
_DRIFT = (JoinPool, AssignNatRule, CreateNatRule, EnsureNatRuleV2, SetScaleSetModelPool)


def fix(finding: Finding) -> Sequence[Change]:
    return (change_from_dict(dict(finding.evidence["change"])),) if "change" in finding.evidence else ()


@guardrail(id=ID, title="Subject matched by a binding is not wired (drift)", severity="medium", fix=fix,
           fix_hint=FIX, source="000: \"Add all VMs in the availability set to the back-end address pool\"; 003")
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    planned = plan(view.config, view.snapshot)
    for change in planned.changes:
        if isinstance(change, _DRIFT) and not (isinstance(change, JoinPool) and "moved from" in change.reason):
            yield found(ID, change.target_id, f"drift: {change.describe()}", fix=FIX, binding=change.binding,
                        evidence={"change": change.to_dict()})
    for held in planned.findings:
        if held.guardrail == REMOVED_CODE:
            # issue 12: taken out of its pool by someone else; reported, not repaired (unless repair: always). Who and
            # when are filled in by the sweep from the events it saw ("unknown" otherwise)
            yield found(ID, held.resource_id, f"removed from its pool by someone else: {held.message}",
                        fix=FIX_REMOVED, binding=held.binding,
                        evidence={"kind": "removedByPerson", "removedBy": "unknown", "removedAt": "unknown"})
