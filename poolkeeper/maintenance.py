"""Never fight a person: whether a managed NIC that is *not* in its pool should be joined. Pure.

Two situations look the same in a snapshot — a NIC outside the pool its binding wants:

* **never wired yet** (a new VM): poolkeeper joins it;
* **taken out by someone** (seed 003 step 5: ``az network nic ip-config address-pool remove … --nic-name myNic2``
  to patch the VM), or **drained** by ``poolkeeper drain``: poolkeeper must not put it back.

They are told apart by state recorded **in Azure, on the NIC**, so every poolkeeper instance (and the sweep) agrees
without shared storage:

* ``poolkeeper.binding=<binding>`` (:data:`~poolkeeper.changes.OWNER_TAG`): written by the NIC write that joins it;
* ``poolkeeper.wired=<binding>`` (:data:`WIRED_TAG`): written by the NIC write that assigns its NAT rule — this is
  how a NIC the operator pooled (the tutorial's ``myNic1..3``, no owner tag) is known to have been wired;
* ``poolkeeper.drain=<record>`` (:data:`DRAIN_TAG`): written by ``drain``, removed by ``restore``
  (:mod:`poolkeeper.drain`).

A NIC outside its pool with either of the first two tags naming its binding, no owner tag but the binding's ``pk-``
NAT rule still assigned (rules are poolkeeper's by name: NICs wired before the wired tag existed), or a drain
record, was wired before: someone (or a drain) took it out. The plan then holds the join and reports it
(``RemovedByPerson`` / ``Drained``, surfaced as PK013 by the sweep) — unless the binding says ``repair: always``.
A NIC without any of them has never been wired: it is joined.

A member of a Flexible scale set whose model poolkeeper wired is created in the pool *by Azure*, so its NIC carries
no poolkeeper tag. The record is then on the scale set instead (:mod:`poolkeeper.flexrecord`): the model write also
wrote ``poolkeeper.flexwired=<time>;<binding>``. A member NIC outside the pool, without poolkeeper's owner tag, whose
VM was created (``timeCreated``) after that time — the time poolkeeper read Azure for the write, plus a grace
window (``flexibleWiredGraceSeconds``, 300 s) for members created from the old model — while the model still holds
the pool, was created wired: someone took it out, and it is held like any NIC poolkeeper wired itself. Members
created earlier, without ``timeCreated``, or of a model someone else wired (no record) are joined.

Residual: a NIC the operator pooled for a binding *without* ``natRule`` carries nothing poolkeeper wrote, so its
removal looks like "never wired" and it is put back; so is a member, taken out, of a Flexible model the operator
wired (no record), or one created inside the grace window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from poolkeeper.changes import OWNER_TAG, RULE_PREFIX
from poolkeeper.config import Binding
from poolkeeper.findings import Finding, planner_finding
from poolkeeper.flexrecord import FLEXWIRED_TAG
from poolkeeper.ids import id_key, parent_key
from poolkeeper.model import IpConfiguration, Nic

WIRED_TAG = "poolkeeper.wired"
DRAIN_TAG = "poolkeeper.drain"
REMOVED_CODE = "RemovedByPerson"
DRAINED_CODE = "Drained"


def _tag(tags: Mapping[str, str], key: str) -> str | None:
    """Azure tag names are case-insensitive; values are not."""
    return next((v for k, v in tags.items() if k.lower() == key.lower()), None)


def was_wired(tags: Mapping[str, str], binding: str, nat_rule_ids: Iterable[str] = (), lb_id: str = "",
              backend_port: int | None = None) -> bool:
    """poolkeeper recorded on this NIC that it wired it for ``binding``. A NIC without poolkeeper's owner tag (the
    operator pooled it) also counts when it still holds the ``pk-…-{backendPort}`` NAT rule of the binding's load
    balancer (rules are poolkeeper's by name): NICs wired before the wired tag existed, and the tutorial's step 5,
    which takes the NIC out of the pool but leaves its NAT rule. A NIC with an owner tag is judged by the tag alone (it
    may be moving between bindings, its old rule being released)."""
    owner = _tag(tags, OWNER_TAG)
    if binding in (owner, _tag(tags, WIRED_TAG)):
        return True
    if owner is not None or backend_port is None or not lb_id:
        return False
    lb = id_key(lb_id)
    return any(parent_key(r) == lb and _pk_rule_for_port(r, backend_port) for r in nat_rule_ids)


def _pk_rule_for_port(rule_id: str, backend_port: int) -> bool:
    name = rule_id.rstrip("/").rsplit("/", 1)[-1].lower()
    return name.startswith(RULE_PREFIX) and name.endswith(f"-{backend_port}")


def is_drained(tags: Mapping[str, str]) -> bool:
    return bool(_tag(tags, DRAIN_TAG))


@dataclass(frozen=True)
class Hold:
    code: str
    message: str


def hold_join(nic_name: str, tags: Mapping[str, str], binding: str, repair: str, nat_rule_ids: Iterable[str] = (),
              lb_id: str = "", backend_port: int | None = None, created_wired: bool = False) -> Hold | None:
    """Why the join of a NIC that is not in ``binding``'s pool must not be planned (None: join it).
    ``created_wired``: the NIC's VM is a Flexible member created in the pool by the model poolkeeper wired
    (:func:`poolkeeper.flexrecord.created_wired`)."""
    if is_drained(tags):
        return Hold(DRAINED_CODE, f"NIC {nic_name} is drained for maintenance (tag {DRAIN_TAG}); "
                                  "`python -m poolkeeper restore <vm id>` puts it back")
    if repair == "always":
        return None
    if was_wired(tags, binding, nat_rule_ids, lb_id, backend_port):
        return Hold(REMOVED_CODE, f"NIC {nic_name} was wired by poolkeeper for binding {binding} and someone took it "
                                  "out of the pool; poolkeeper does not put it back (binding repair: never). "
                                  "`python -m poolkeeper restore <vm id>` or the person puts it back")
    if created_wired and _tag(tags, OWNER_TAG) is None:
        return Hold(REMOVED_CODE, f"NIC {nic_name} was created in binding {binding}'s pool by its Flexible scale "
                                  f"set's model (wired by poolkeeper, tag {FLEXWIRED_TAG}) and someone took it out "
                                  "of the pool; poolkeeper does not put it back (binding repair: never). "
                                  "`python -m poolkeeper restore <vm id>` or the person puts it back")
    return None


def held_report(nic: Nic, ip_configuration: IpConfiguration, binding: Binding, lb_id: str,
                created_wired: bool = False) -> Finding | None:
    """The planner's hook (one call where a join is planned): a finding instead of the join, or None."""
    port = binding.nat_rule.backend_port if binding.nat_rule is not None else None
    hold = hold_join(nic.name, nic.tags, binding.name, binding.repair, ip_configuration.nat_rule_ids, lb_id, port,
                     created_wired)
    if hold is None:
        return None
    return planner_finding(hold.code, nic.id, hold.message, binding=binding.name)


class MaintenanceRefused(Exception):
    """A drain or restore poolkeeper will not do (HTTP 409): under the pool's minimum in rotation, nothing to
    drain, a record that does not fit a tag. Nothing was changed."""
