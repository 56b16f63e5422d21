"""Availability sets: fault/update domain counts and the VMs placed in them.

``virtualMachines`` is a back-reference computed on read from the VMs that name the set, so it can never disagree
with the VMs themselves. Availability-set writes are synchronous in Azure (PUT answers 200 even on create, no ETag).
"""

from __future__ import annotations

from typing import Any

from armsim.compute.common import AVSET_TYPE, READ_ONLY, VM_TYPE, invalid_parameter, props, same
from armsim.errors import ArmError
from armsim.provider import Ctx, Provider, registered, strip_keys
from armsim.store import Record


@registered
class AvailabilitySetProvider(Provider):
    type = AVSET_TYPE
    etag_style = None
    lro_put = False
    lro_delete = False
    put_duration_kind = "compute.availabilityset.put"
    create_status = 200  # azure-mgmt-compute's availability_sets.create_or_update accepts only 200

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        body = strip_keys(body, READ_ONLY)
        p = props(body)
        old = (existing or {}).get("properties", {})
        fd = p.get("platformFaultDomainCount", old.get("platformFaultDomainCount", 2))
        ud = p.get("platformUpdateDomainCount", old.get("platformUpdateDomainCount", 5))
        if not isinstance(fd, int) or not 1 <= fd <= 3:
            raise invalid_parameter(f"The value {fd} of parameter 'platformFaultDomainCount' is out of range. "
                                    "The value must be between 1 and 3, inclusive.")
        if not isinstance(ud, int) or not 1 <= ud <= 20:
            raise invalid_parameter(f"The value {ud} of parameter 'platformUpdateDomainCount' is out of range. "
                                    "The value must be between 1 and 20, inclusive.")
        if existing is not None and self._members(ctx, resource_id) and (
            fd != old.get("platformFaultDomainCount") or ud != old.get("platformUpdateDomainCount")
        ):
            raise ArmError(
                409,
                "PropertyChangeNotAllowed",
                "Changing property 'platformFaultDomainCount' or 'platformUpdateDomainCount' is not allowed while the "
                "availability set has virtual machines.",
            )
        p["platformFaultDomainCount"] = fd
        p["platformUpdateDomainCount"] = ud
        body.setdefault("sku", (existing or {}).get("sku") or {"name": "Classic"})
        return body

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        p = props(body)
        p.pop("provisioningState", None)  # availability sets have no provisioningState
        p["virtualMachines"] = [{"id": r.id} for r in self._members(ctx, body["id"])]
        return body

    def check_delete(self, ctx: Ctx, record: Record) -> None:
        members = self._members(ctx, record.id)
        if members:
            # Azure refuses to delete a set that still holds VMs (code as seen from CRP; wording ours).
            raise ArmError(
                409,
                "OperationNotAllowed",
                f"Availability set '{record.body.get('name')}' cannot be deleted: it still contains virtual machines "
                f"{', '.join(r.id for r in members)}. Delete or move them first.",
            )

    @staticmethod
    def _members(ctx: Ctx, avset_id: str) -> list[Record]:
        return [
            r for r in ctx.store.referrers(avset_id)
            if r.type == VM_TYPE
            and same((r.body.get("properties", {}).get("availabilitySet") or {}).get("id"), avset_id)
        ]
