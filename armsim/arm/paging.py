"""Collections: listing a resource type under its path, and ARM's paging (``$skiptoken``, ``$top``, ``nextLink``)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from armsim import ids
from armsim.arm.core import EngineCore
from armsim.arm.values import Response
from armsim.errors import ArmError, not_found
from armsim.provider import Ctx, Provider


class Paging(EngineCore):
    """List records of a type and page any list as ARM does."""

    def _list(self, ctx: Ctx, provider: Provider, p: ids.ArmPath, query: dict[str, str]) -> Response:
        if len(p.types) > 1:
            parent = p.resource_id(len(p.names))
            if self.store.get(parent) is None:
                raise not_found(parent, "parent resource")
            recs = [r for r in self.store.of_type(provider.type, p.subscription, p.resource_group)
                    if ids.key(ids.parent_id(r.id)) == ids.key(parent)]
        else:
            recs = self.store.of_type(provider.type, p.subscription, p.resource_group)
        # a record may live under another type's path (a scale-set instance NIC is a networkInterfaces record under
        # Microsoft.Compute/virtualMachineScaleSets/...): ARM lists it only under its own path
        recs = [r for r in recs if (rp := ids.parse(r.id)) is not None and rp.type_key == p.type_key]
        path = "/".join(seg for seg in self._collection_path(p).split("/") if seg)
        return self._page([self.render(ctx, r) for r in recs], query, path)

    @staticmethod
    def _collection_path(p: ids.ArmPath) -> str:
        out = f"subscriptions/{p.subscription}"
        if p.resource_group:
            out += f"/resourceGroups/{p.resource_group}"
        out += f"/providers/{p.namespace}"
        for i, t in enumerate(p.types):
            out += f"/{t}"
            if i < len(p.names):
                out += f"/{p.names[i]}"
        return out

    def _page(self, items: list[Any], query: dict[str, str], path: str) -> Response:
        try:
            start = int(query.get("$skiptoken", "0"))
        except ValueError as err:
            raise ArmError(400, "InvalidSkipToken", "The $skiptoken is not valid; use the nextLink as given.") from err
        size = self.config.page_size
        top = query.get("$top")
        if top and top.isdigit():
            size = min(size, int(top))
        page = items[start : start + size]
        body: dict[str, Any] = {"value": page}
        if start + size < len(items) and not top:
            q = {"api-version": query.get("api-version", ""), "$skiptoken": str(start + size)}
            body["nextLink"] = f"{self.base_url}{path}?{urlencode(q)}"
        return Response(200, body)
