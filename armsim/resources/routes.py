"""Which Microsoft.Resources paths this package serves, and the handler for each."""

from __future__ import annotations

from armsim.engine import Engine, Response
from armsim.provider import Ctx
from armsim.resources.listing import list_resources


class ResourcesRoutes:
    """An engine route (see ``Engine.routes``): None for paths that are not ours."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        from armsim.resources.deployments import Deployments

        self.deployments = Deployments(engine)

    def __call__(
        self, ctx: Ctx, method: str, parts: list[str], query: dict[str, str], headers: dict[str, str], body: bytes
    ) -> Response | None:
        low = [p.lower() for p in parts]
        if low[2:] == ["resources"] and method == "GET":
            return list_resources(self.engine, query, None)
        if len(low) == 5 and low[2] == "resourcegroups" and low[4] == "resources" and method == "GET":
            return list_resources(self.engine, query, parts[3])
        # /subscriptions/{s}/resourcegroups/{g}/providers/Microsoft.Resources/deployments[/{name}[/...]]
        if len(low) >= 7 and low[2] == "resourcegroups" and low[4:7] == ["providers", "microsoft.resources",
                                                                          "deployments"]:
            return self.deployments.handle(ctx, method, parts[3], parts[7:], query, body)
        return None
