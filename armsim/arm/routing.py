"""Request routing: which ARM path is a subscription, provider listing, operation status, resource group, plugin
route, resource, child or action."""

from __future__ import annotations

from typing import Any

from armsim import ids
from armsim.arm.actions import Actions
from armsim.arm.children import Children
from armsim.arm.resource_groups import ResourceGroups
from armsim.arm.values import Response
from armsim.errors import ArmError
from armsim.provider import Ctx


class Routing(ResourceGroups, Actions, Children):
    """Dispatch a request to the concern that serves it."""

    def _route(
        self, ctx: Ctx, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        parts = [p for p in path.split("/") if p]
        low = [p.lower() for p in parts]
        if low == ["subscriptions"] and method == "GET":
            return Response(200, {"value": [self._subscription_body()]})
        if len(parts) < 2 or low[0] != "subscriptions":
            raise ArmError(404, "NotFound", f"No route for '{path}'. armsim serves ARM paths under /subscriptions.")
        if parts[1].lower() != self.subscription_id.lower():
            raise ArmError(
                404,
                "SubscriptionNotFound",
                f"The subscription '{parts[1]}' could not be found. "
                f"armsim serves subscription '{self.subscription_id}'.",
            )
        if len(parts) == 2 and method == "GET":
            return Response(200, self._subscription_body())
        for route in self.routes:
            served = route(ctx, method, parts, query, headers, body)
            if served is not None:
                return served
        # operation status: /subscriptions/{s}/providers/{ns}/locations/{loc}/operations|operationResults/{id}
        if len(low) == 8 and low[2] == "providers" and low[4] == "locations" and low[6] in (
            "operations",
            "operationresults",
            "asyncoperations",
        ):
            return self._operation_status(parts[7], low[6] == "operationresults")
        if len(low) >= 3 and low[2] == "resourcegroups":
            if len(low) == 3 and method == "GET":
                return self._list_resource_groups(query)
            if len(low) == 4:
                return self._resource_group(ctx, method, parts[3], body)
            if len(low) == 5 and low[4] == "resources" and method == "GET":
                return self._list_resources_in_group(ctx, parts[3], query)
        if len(low) == 3 and low[2] == "providers" and method == "GET":
            return Response(200, {"value": self._providers_listing()})
        if len(low) == 4 and low[2] == "providers" and method == "GET":
            listing = [p for p in self._providers_listing() if p["namespace"].lower() == low[3]]
            if not listing:
                raise ArmError(404, "InvalidResourceNamespace", f"The resource namespace '{parts[3]}' is invalid.")
            return Response(200, listing[0])
        p = ids.parse(path)
        if p is None:
            raise ArmError(404, "NotFound", f"No route for '{path}'. Check the resource path.")
        return self._resource(ctx, method, p, query, headers, body)

    def _subscription_body(self) -> dict[str, Any]:
        return {
            "id": f"/subscriptions/{self.subscription_id}",
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
            "displayName": "armsim",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01",
                "quotaId": "armsim",
                "spendingLimit": "Off",
            },
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
        }

    def _providers_listing(self) -> list[dict[str, Any]]:
        by_ns: dict[str, list[str]] = {}
        for prov in self.providers.values():
            ns, _, rtype = prov.type.partition("/")
            by_ns.setdefault(ns, []).append(rtype)
        return [
            {
                "id": f"/subscriptions/{self.subscription_id}/providers/{ns}",
                "namespace": ns,
                "registrationState": "Registered",
                "resourceTypes": [
                    {
                        "resourceType": t,
                        "locations": ["West US", "East US", "West Europe"],
                        "apiVersions": ["2024-07-01"],
                    }
                    for t in sorted(types)
                ],
            }
            for ns, types in sorted(by_ns.items())
        ]

    def _resource(
        self, ctx: Ctx, method: str, p: ids.ArmPath, query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response:
        if p.resource_group is None and not (method == "GET" and p.is_collection and len(p.types) == 1):
            raise ArmError(
                404, "NotFound", "Resource paths need a resource group: /subscriptions/{s}/resourceGroups/{rg}/..."
            )
        if p.resource_group is not None and self.resource_group(p.resource_group) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{p.resource_group}' could not be found.")
        # POST .../{type}/{name}/{action}
        if method == "POST" and p.is_collection and len(p.types) >= 2:
            target = ids.ArmPath(p.subscription, p.resource_group, p.namespace, p.types[:-1], p.names)
            return self._action(ctx, target, p.types[-1], body)
        provider = self.provider_for(p.full_type)
        if provider is not None:
            custom = provider.custom_get(ctx, p) if method == "GET" else None
            if custom is not None:
                return custom if isinstance(custom, Response) else Response(200, custom)
            if p.is_collection:
                if method != "GET":
                    raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on a collection.")
                return self._list(ctx, provider, p, query)
            return self._single(ctx, provider, p, method, headers, body)
        # child endpoints: {parent type}/{parent}/{child collection}[/{child}]
        if len(p.types) >= 2:
            parent_type = f"{p.namespace}/{'/'.join(p.types[:-1])}"
            parent_provider = self.provider_for(parent_type)
            if parent_provider is not None:
                prop = {k.lower(): v for k, v in parent_provider.children.items()}.get(p.types[-1].lower())
                if prop is not None:
                    return self._child(ctx, parent_provider, p, prop, method, headers, body, query)
        # ARM answers an unknown (nested) type with 404 InvalidResourceType ("The resource type could not be found in
        # the namespace '...' for api version '...'": the 404 body quoted in cloudquery/cloudquery#6629)
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The resource type '{p.full_type}' could not be found in the namespace '{p.namespace}' for api version "
            f"'{ctx.api_version}'.",
        )
