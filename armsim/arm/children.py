"""Child-resource endpoints: ``{parent}/{collection}[/{child}]`` served from the parent's record."""

from __future__ import annotations

import copy
import json

from armsim import ids
from armsim.arm.paging import Paging
from armsim.arm.values import Response
from armsim.arm.writes import Writes
from armsim.errors import ArmError, not_found
from armsim.provider import Ctx, Provider


class Children(Writes, Paging):
    """Read, write and delete a child through a write of its parent."""

    def _child(
        self, ctx: Ctx, provider: Provider, p: ids.ArmPath, prop: str, method: str, headers: dict[str, str],
        body: bytes, query: dict[str, str],
    ) -> Response:
        parent_id = p.resource_id(len(p.types) - 1)
        parent = self.store.get(parent_id)
        child_type = f"{provider.type}/{p.types[-1]}"
        if parent is None:
            if method == "DELETE":
                return Response(204)
            raise not_found(parent_id, f"resource '{provider.type}'")
        rendered = self.render(ctx, parent)
        children = rendered.get("properties", {}).get(prop) or []
        if p.is_collection:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on a collection.")
            return self._page(children, query, self._collection_path(p))
        name = p.names[-1]
        current = next((c for c in children if str(c.get("name", "")).lower() == name.lower()), None)
        child_id = f"{parent.id}/{p.types[-1]}/{current['name'] if current else name}"
        if method == "GET":
            if current is None:
                raise not_found(child_id, f"resource '{child_type}'")
            return Response(200, current, self._etag_headers(current))
        if p.types[-1].lower() in {c.lower() for c in provider.read_only_children}:
            raise ArmError(405, "MethodNotAllowed", f"'{child_type}' cannot be changed through its own endpoint.")
        self._check_preconditions(headers, current.get("etag") if current else None, current is not None, child_id)
        new_parent = copy.deepcopy(parent.body)
        coll = new_parent.setdefault("properties", {}).setdefault(prop, [])
        coll[:] = [c for c in coll if str(c.get("name", "")).lower() != name.lower()]
        if method == "DELETE":
            if current is None:
                return Response(204)
            busy = self.is_busy(parent.id)
            if busy is not None:
                raise self._busy_error(ctx, busy, parent.id)
            self.put(ctx, provider, parent.id, new_parent, event_for=child_id, operation_name=f"{child_type}/delete")
            op_id = self.store.get(parent.id).busy_op  # type: ignore[union-attr]
            op = self.ops.get(op_id) if op_id else None
            if op is None:
                return Response(200)
            return Response(202, None, self._lro_headers(ctx, op, location=True))
        if method not in ("PUT", "PATCH"):
            raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on '{child_type}'.")
        data = json.loads(body or b"null")
        if not isinstance(data, dict):
            raise ArmError(
                400, "InvalidRequestFormat", "The request body must be a JSON object describing the resource."
            )
        if method == "PATCH" and current is not None:
            data = provider.patch(ctx, copy.deepcopy(current), data)
        data["name"] = current["name"] if current else name
        data.pop("id", None)
        coll.append(data)
        resp = self.put(ctx, provider, parent.id, new_parent, event_for=child_id, operation_name=f"{child_type}/write")
        out_children = resp.body.get("properties", {}).get(prop) or []
        out = next((c for c in out_children if str(c.get("name", "")).lower() == name.lower()), data)
        hdrs = {k: v for k, v in resp.headers.items() if k != "ETag"}
        hdrs.update(self._etag_headers(out))
        return Response(200 if current else 201, out, hdrs)
