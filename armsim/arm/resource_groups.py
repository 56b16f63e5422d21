"""Resource groups: create, read, list, delete (with everything in them), and the per-group resource listing."""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, cast

from armsim import ids
from armsim.arm.core import SYSTEM_PRINCIPAL
from armsim.arm.operations import Operations
from armsim.arm.paging import Paging
from armsim.arm.values import Response
from armsim.errors import ArmError
from armsim.provider import Ctx
from armsim.store import Record
from armsim.throttle import retry_after_headers

if TYPE_CHECKING:
    from armsim.engine import Engine  # the mixins are only ever parts of Engine

RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"


class ResourceGroups(Operations, Paging):
    """``/subscriptions/{s}/resourceGroups[/{rg}[/resources]]``."""

    def _resource_group(self, ctx: Ctx, method: str, name: str, body: bytes) -> Response:
        rid = self.rg_id(name)
        rec = self.store.get(rid)
        if method in ("GET", "HEAD"):
            if rec is None:
                if method == "HEAD":
                    return Response(404)
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            return Response(204 if method == "HEAD" else 200, None if method == "HEAD" else copy.deepcopy(rec.body))
        if method in ("PUT", "PATCH"):
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ArmError(400, "InvalidRequestFormat", "The request body must be a JSON object.")
            if rec is None and method == "PATCH":
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
            location = data.get("location") or (rec.body["location"] if rec else None)
            if not location:
                raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
            new = {
                "id": rec.id if rec else rid,
                "name": rec.body["name"] if rec else name,
                "type": RESOURCE_GROUP_TYPE,
                "location": location,
                "tags": data.get("tags", rec.body.get("tags", {}) if rec else {}),
                "properties": {"provisioningState": "Succeeded"},
            }
            if data.get("managedBy"):
                new["managedBy"] = data["managedBy"]
            self.store.put(Record(new["id"], RESOURCE_GROUP_TYPE, new))
            self.publish(
                self.make_event(ctx, "Microsoft.Resources.ResourceWriteSuccess", new["id"],
                                "Microsoft.Resources/subscriptions/resourceGroups/write", "Succeeded")
            )
            self.on_change()
            return Response(200 if rec else 201, copy.deepcopy(new))
        if method == "DELETE":
            if rec is None:
                return Response(204)
            prefix = ids.key(rid) + "/"
            doomed = [r for r in self.store if ids.key(r.id).startswith(prefix)]
            events = []
            for r in sorted(doomed, key=lambda r: -len(r.id)):
                self.store.remove(r.id)
                events.append(
                    self.make_event(
                        ctx, "Microsoft.Resources.ResourceDeleteSuccess", r.id, f"{r.type}/delete", "Succeeded"
                    )
                )
            self.store.remove(rid)
            events.append(
                self.make_event(ctx, "Microsoft.Resources.ResourceDeleteSuccess", rec.id,
                                "Microsoft.Resources/subscriptions/resourceGroups/delete", "Succeeded")
            )
            op = self.start_operation(
                namespace="Microsoft.Resources", location=rec.body.get("location", "westus"), kind="delete",
                resource_id=None, duration=self.config.duration("resources.delete"), events=events,
            )
            self.on_change()
            # ARM answers a resource group DELETE with Location only; its poll hint is the one every other
            # long-running operation gets (it was a fixed "Retry-After: 1", a whole second even at a fast time scale)
            hint = self._poll_after(op) if op.status == "InProgress" else 0.001
            return Response(
                202,
                None,
                {"Location": self.op_status_url(op, result=True, api_version=ctx.api_version),
                 **retry_after_headers(hint, self.config.time_scale)},
            )
        raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on a resource group.")

    def _list_resource_groups(self, query: dict[str, str]) -> Response:
        recs = self.store.of_type(RESOURCE_GROUP_TYPE)
        return self._page(
            [copy.deepcopy(r.body) for r in recs], query, f"subscriptions/{self.subscription_id}/resourcegroups"
        )

    def _list_resources_in_group(self, ctx: Ctx, rg: str, query: dict[str, str]) -> Response:
        if self.resource_group(rg) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        out = []
        for rec in self.store:
            if rec.type == RESOURCE_GROUP_TYPE or (ids.resource_group_of(rec.id) or "").lower() != rg.lower():
                continue
            if len(ids.parse(rec.id).names) != 1:  # type: ignore[union-attr]
                continue
            b = rec.body
            out.append({k: b[k] for k in ("id", "name", "type", "location", "tags", "sku", "kind") if k in b})
        out.sort(key=lambda r: r["id"].lower())
        return self._page(out, query, f"subscriptions/{self.subscription_id}/resourceGroups/{rg}/resources")

    def ensure_resource_group(self, name: str, location: str) -> None:
        ctx = Ctx(cast("Engine", self), SYSTEM_PRINCIPAL, method="PUT")
        self._resource_group(ctx, "PUT", name, json.dumps({"location": location}).encode())
