"""PK003: an availability set behind a load balancer has fewer than two VMs.

Source: seed 000, "Availability set recommendations": "Create at least two VMs in the availability set, to support
the availability SLA for Azure VMs." and "For the SLA to apply, you need a minimum of two VMs in the same
availability set."
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.netpath import short
from poolkeeper.guardrails.registry import View, found, guardrail
from poolkeeper.ids import id_key

ID = "PK003"
FIX = "create another VM in the availability set (a VM joins an availability set only when it is created)"


@guardrail(id=ID, title="Availability set behind a load balancer has fewer than 2 VMs",
           source="000: \"For the SLA to apply, you need a minimum of two VMs in the same availability set\"",
           severity="medium", fix_hint=FIX,
           params_schema={"properties": {"minimum": {"type": "integer", "minimum": 2, "default": 2}}})
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    snap = view.snapshot
    members: dict[str, list[str]] = {}
    names: dict[str, str] = {}
    behind_lb: set[str] = set()
    for vm in snap.vms.values():
        if not vm.availability_set_id or (vm.provisioning_state or "").lower() == "deleting":
            continue
        key = id_key(vm.availability_set_id)
        names.setdefault(key, vm.availability_set_id)
        members.setdefault(key, []).append(vm.name)
        nic = snap.primary_nic(vm)
        if nic is not None and any(ic.backend_pool_ids for ic in nic.ip_configurations):
            behind_lb.add(key)
    for key in sorted(behind_lb):
        vms = sorted(members[key])
        if len(vms) < params["minimum"]:
            yield found(ID, names[key], f"availability set {short(names[key])} is behind a load balancer with "
                                        f"{len(vms)} VM(s) ({', '.join(vms)}); the SLA needs at least "
                                        f"{params['minimum']}", fix=FIX, evidence={"vms": vms})
