"""``GET /subscriptions/{s}/resources`` and ``GET /subscriptions/{s}/resourceGroups/{g}/resources``.

Source: azure-rest-api-specs, Microsoft.Resources stable/2024-11-01 resources.json, ``Resources_List`` and
``Resources_ListByResourceGroup``: a paged list of ``GenericResourceExpanded`` (id, name, type, location, tags, sku,
kind, managedBy, plus createdTime/changedTime/provisioningState when ``$expand`` asks) filtered by ``$filter``
(see :mod:`armsim.resources.odata`). Only top-level resources are listed (child resources such as subnets or a
scale set's instances are not, as in Azure). az looks resources up this way before ``lb create``/``vm create``
(``resourceGroup eq 'g' and name eq 'n' and resourceType eq 'T'``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from armsim import ids
from armsim.engine import RESOURCE_GROUP_TYPE, Engine, Response
from armsim.errors import ArmError
from armsim.resources.odata import compile_filter

_FIELDS = ("id", "name", "type", "location", "tags", "sku", "kind", "managedBy", "plan", "identity", "zones")
_EXPANDABLE = {"provisioningstate": "provisioningState", "createdtime": "createdTime", "changedtime": "changedTime"}


def _listed(rec_body: dict[str, Any], expand: set[str]) -> dict[str, Any]:
    out = {k: rec_body[k] for k in _FIELDS if k in rec_body}
    if "provisioningstate" in expand:
        out["provisioningState"] = (rec_body.get("properties") or {}).get("provisioningState", "Succeeded")
    return out


def list_resources(engine: Engine, query: dict[str, str], resource_group: str | None) -> Response:
    """The listing of one subscription or one of its resource groups, filtered and paged like ARM's."""
    if resource_group is not None and engine.resource_group(resource_group) is None:
        raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found.")
    keep = compile_filter(query.get("$filter"))
    expand = {e.strip().lower() for e in query.get("$expand", "").split(",") if e.strip()}
    out = []
    for rec in engine.store:
        if rec.type == RESOURCE_GROUP_TYPE:
            continue
        parsed = ids.parse(rec.id)
        # top-level resources only, and only those living under their own type's path (a scale-set instance's NIC
        # is stored under Microsoft.Compute/virtualMachineScaleSets/... and is not a top-level resource)
        if parsed is None or len(parsed.names) != 1 or parsed.type_key != rec.type.lower():
            continue
        rg = ids.resource_group_of(rec.id) or ""
        if resource_group is not None and rg.lower() != resource_group.lower():
            continue
        item = _listed(rec.body, expand)
        if keep(item):
            out.append(item)
    out.sort(key=lambda r: str(r["id"]).lower())
    path = f"subscriptions/{engine.subscription_id}"
    path += f"/resourceGroups/{resource_group}/resources" if resource_group else "/resources"
    resp = engine._page(out, query, path)
    next_link = resp.body.get("nextLink") if isinstance(resp.body, dict) else None
    if next_link:
        # the next page must be filtered the same way: ARM's nextLink carries the filter (the engine's does not)
        carried = {k: query[k] for k in ("$filter", "$expand") if query.get(k)}
        if carried:
            resp.body["nextLink"] = f"{next_link}&{urlencode(carried)}"
    return resp
