"""Writes of a whole resource: GET/PUT/PATCH/DELETE of one resource, validation through its provider, the running
state while the operation runs, and network resources' two-phase delete (``Deleting``)."""

from __future__ import annotations

import copy
import json
from typing import Any

from armsim import ids
from armsim.arm.conditional import Conditional
from armsim.arm.operations import Operations
from armsim.arm.values import Response
from armsim.errors import ArmError, not_found
from armsim.provider import Ctx, Provider
from armsim.store import Record


class Writes(Operations, Conditional):
    """One resource's endpoint and the write paths providers and scenarios share."""

    def _single(
        self, ctx: Ctx, provider: Provider, p: ids.ArmPath, method: str, headers: dict[str, str], body: bytes
    ) -> Response:
        rid = p.resource_id()
        rec = self.store.get(rid)
        if method in ("GET", "HEAD"):
            if rec is None:
                raise not_found(rid, f"resource '{p.full_type}'")
            out = self.render(ctx, rec)
            return Response(200, out, self._etag_headers(out))
        if method == "DELETE":
            self._check_preconditions(headers, rec.body.get("etag") if rec else None, rec is not None, rid)
            if rec is None:
                return Response(204)
            return self.delete(ctx, rec)
        if method in ("PUT", "PATCH"):
            data = json.loads(body or b"null")
            if not isinstance(data, dict):
                raise ArmError(
                    400, "InvalidRequestFormat", "The request body must be a JSON object describing the resource."
                )
            self._check_preconditions(headers, rec.body.get("etag") if rec else None, rec is not None, rid)
            if method == "PATCH":
                if rec is None:
                    raise not_found(rid, f"resource '{p.full_type}'")
                tags = data.get("tags") if "tags" in data else None
                data = provider.patch(ctx, copy.deepcopy(rec.body), data)
                if tags is not None:
                    # a resource's PATCH replaces the whole tag set (it is not merged key by key): Microsoft Learn,
                    # "Use tags to organize your Azure resources" — PATCH of a resource's tags object replaces it;
                    # merging is what the separate Microsoft.Resources/tags "Merge" operation is for
                    data["tags"] = copy.deepcopy(tags)
            if len(p.types) > 1 and self.store.get(p.resource_id(len(p.names) - 1)) is None:
                raise ArmError(404, "ParentResourceNotFound", f"The parent resource of '{rid}' was not found.")
            return self.put(ctx, provider, rid, data)
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on '{p.full_type}'.")

    def put(self, ctx: Ctx, provider: Provider, rid: str, data: dict[str, Any], *, lro: bool | None = None,
            event_for: str | None = None, operation_name: str | None = None) -> Response:
        """Validate and store a PUT of a whole resource. Also used by providers and scenarios for internal writes."""
        rec = self.store.get(rid)
        if rec is not None:
            busy = self.is_busy(rid)
            if busy is not None:
                raise self._busy_error(ctx, busy, rid)
        existing = copy.deepcopy(rec.body) if rec else None
        if provider.requires_location and not data.get("location"):
            if ctx.url:
                # ARM validates a tracked resource's PUT body before the provider sees it: no location, no write
                # (error code from Microsoft Learn, "Resolve errors for resource location": LocationRequired).
                raise ArmError(
                    400,
                    "LocationRequired",
                    f"The location property is required for this definition ('{provider.type}'). Add \"location\" "
                    f"to the request body (e.g. the resource group's location).",
                )
            if existing and existing.get("location"):
                data["location"] = existing["location"]
            else:
                rg = self.resource_group(ids.resource_group_of(rid) or "")
                if rg is None:
                    raise ArmError(400, "LocationRequired", f"The location property is required for '{rid}'.")
                data["location"] = rg.body["location"]
        stored_id = rec.id if rec else rid
        body = provider.prepare(ctx, stored_id, copy.deepcopy(data), existing)
        etag = self._new_etag(provider, rec)
        use_lro = provider.lro_put if lro is None else lro
        duration = ctx.duration(provider.put_duration_kind) if use_lro else 0.0
        body["id"] = stored_id
        body["name"] = ids.name_of(stored_id)
        body["type"] = provider.type
        if etag is not None:
            body["etag"] = etag
        props = body.setdefault("properties", {})
        props["provisioningState"] = (
            self._running_state(provider, creating=rec is None) if duration > 0 else "Succeeded"
        )
        new = Record(stored_id, provider.type, body, meta=dict(rec.meta) if rec else {})
        if provider.etag_style == "compute":
            new.meta["etag_n"] = int(new.meta.get("etag_n", 0)) + 1
        self.store.put(new)
        provider.after_put(ctx, new, existing)
        ev_id = event_for or stored_id
        ev = self.make_event(ctx, "Microsoft.Resources.ResourceWriteSuccess", ev_id,
                             operation_name or f"{provider.type}/write", "Succeeded")
        fail = getattr(self, "_fail_next_op", False)
        self._fail_next_op = False
        op = self.start_operation(
            namespace=provider.type.split("/")[0], location=body.get("location", "westus"), kind="put",
            resource_id=stored_id, duration=duration, events=[ev], fail=fail,
        )
        if op.status == "InProgress":
            new.busy_op = op.id
        elif provider is not None and op.status == "Succeeded" and duration <= 0:
            # _complete only runs on_put_complete for a record marked busy with the operation, which an immediate
            # operation never is: run it here
            provider.on_put_complete(ctx, new)
        self.on_change()
        out = self.render(ctx, new)
        hdrs = self._etag_headers(out)
        if use_lro:
            hdrs.update(self._lro_headers(ctx, op, location=False))
        return Response(200 if rec else provider.create_status, out, hdrs)

    @staticmethod
    def _running_state(provider: Provider, *, creating: bool) -> str:
        """The provisioningState while a PUT runs.

        The network provider's ProvisioningState enum is Succeeded, Updating, Deleting, Failed — there is no
        Creating (specification/network/resource-manager/Microsoft.Network/stable/2024-07-01/network.json,
        definitions/ProvisioningState), so a network resource being created reads Updating. Compute reports Creating.
        """
        if creating and not provider.type.lower().startswith("microsoft.network/"):
            return "Creating"
        return "Updating"

    def delete(self, ctx: Ctx, rec: Record, *, event_for: str | None = None) -> Response:
        """Delete a whole resource: refuse if Azure would, else remove it now and finish the operation later."""
        provider = self.provider_for(rec.type)
        busy = self.is_busy(rec.id)
        if busy is not None and busy.kind != "delete":
            raise self._busy_error(ctx, busy, rec.id)
        if busy is not None:  # already being deleted: the same operation answers again
            return Response(202, None, self._lro_headers(ctx, busy, location=True))
        if provider is not None:
            provider.check_delete(ctx, rec)
        ev = self.make_event(ctx, "Microsoft.Resources.ResourceDeleteSuccess", event_for or rec.id,
                             f"{rec.type}/delete", "Succeeded")
        use_lro = provider.lro_delete if provider else False
        duration = ctx.duration(provider.delete_duration_kind) if (provider and use_lro) else 0.0
        if provider is not None and duration > 0 and ctx.url and provider.type.lower().startswith("microsoft.network/"):
            return self._delete_later(ctx, provider, rec, ev, duration)
        self.store.remove(rec.id)
        if provider is not None:
            provider.after_delete(ctx, rec)
        op = self.start_operation(
            namespace=rec.type.split("/")[0], location=rec.body.get("location", "westus"), kind="delete",
            resource_id=None, duration=duration, events=[ev],
        )
        self.on_change()
        if not use_lro:
            return Response(200)
        return Response(202, None, self._lro_headers(ctx, op, location=True))

    def _delete_later(self, ctx: Ctx, provider: Provider, rec: Record, ev: dict[str, Any], duration: float) -> Response:
        """A network resource's DELETE: it stays, ``provisioningState: Deleting``, for the operation's duration.

        NRP's ProvisioningState has Deleting (network.json, definitions/ProvisioningState). Meanwhile writes to it are
        refused as for any running operation (409 ``AnotherOperationInProgress``), and writes referencing it get NRP's
        429 ``ReferencedResourceNotProvisioned`` "... Resource is in Deleting state ..." (coreos/tectonic-installer
        #1459). The record is removed, and the delete event published, when the operation completes.
        """
        rid = rec.id
        body = copy.deepcopy(rec.body)
        body.setdefault("properties", {})["provisioningState"] = "Deleting"
        deleting = Record(rid, rec.type, body, meta=dict(rec.meta))
        self.store.put(deleting)

        def remove() -> None:
            gone = self.store.get(rid)
            if gone is not None:
                self.store.remove(rid)
                provider.after_delete(ctx, gone)

        op = self.start_operation(
            namespace=rec.type.split("/")[0], location=rec.body.get("location", "westus"), kind="delete",
            resource_id=rid, duration=duration, events=[ev], on_complete=remove,
        )
        deleting.busy_op = op.id
        self.on_change()
        return Response(202, None, self._lro_headers(ctx, op, location=True))
