"""POST actions on a resource or on a child of one (e.g. ``queryInboundNatRulePortMapping`` on a backend pool)."""

from __future__ import annotations

import json

from armsim import ids
from armsim.arm.operations import Operations
from armsim.arm.values import Response
from armsim.errors import ArmError, not_found
from armsim.provider import ActionResult, Ctx, Provider
from armsim.store import Record


class Actions(Operations):
    """Answer an action at once or as a long-running operation."""

    def _action(self, ctx: Ctx, target: ids.ArmPath, name: str, body: bytes) -> Response:
        provider = self.provider_for(target.full_type)
        if provider is None:
            child = self._child_action_target(target)
            if child is not None:
                return self._child_action(ctx, target, child[0], child[1], name, body)
            raise ArmError(400, "InvalidResourceType", f"The resource type '{target.full_type}' is not supported.")
        rid = target.resource_id()
        rec = self.store.get(rid)
        if rec is None:
            raise not_found(rid, f"resource '{target.full_type}'")
        busy = self.is_busy(rid)
        if busy is not None:
            raise self._busy_error(ctx, busy, rid)
        data = json.loads(body) if body else None
        result: ActionResult = provider.action(ctx, rec, name, data)
        op_name = f"{provider.type}/{name}/action"
        return self._action_outcome(ctx, provider, rec, rec.id, op_name, result)

    def _child_action_target(self, target: ids.ArmPath) -> tuple[Provider, str] | None:
        """(parent provider, collection property) when ``target`` is a child declared in its parent's ``children``.

        Children such as a load balancer's backend pools have no provider of their own, so before this path an
        action on them was refused as an unknown type; resolving through the parent keeps every other case as it was.
        """
        if len(target.types) < 2 or len(target.names) != len(target.types):
            return None
        parent_provider = self.provider_for(f"{target.namespace}/{'/'.join(target.types[:-1])}")
        if parent_provider is None:
            return None
        prop = {k.lower(): v for k, v in parent_provider.children.items()}.get(target.types[-1].lower())
        return (parent_provider, prop) if prop is not None else None

    def _child_action(
        self, ctx: Ctx, target: ids.ArmPath, provider: Provider, prop: str, name: str, body: bytes
    ) -> Response:
        """POST .../{parent}/{collection}/{child}/{action}: the parent's provider answers (``child_action``)."""
        parent_id = target.resource_id(len(target.types) - 1)
        parent = self.store.get(parent_id)
        if parent is None:
            raise not_found(parent_id, f"resource '{provider.type}'")
        data = json.loads(body) if body else None
        child_name = target.names[-1]
        result: ActionResult = provider.child_action(ctx, parent, prop, child_name, name, data)
        if result.busy:
            busy = self.is_busy(parent.id)
            if busy is not None:
                raise self._busy_error(ctx, busy, parent.id)
        child_id = f"{parent.id}/{target.types[-1]}/{child_name}"
        op_name = f"{provider.type}/{target.types[-1]}/{name}/action"
        return self._action_outcome(ctx, provider, parent, child_id, op_name, result)

    def _action_outcome(
        self, ctx: Ctx, provider: Provider, rec: Record, event_id: str, op_name: str, result: ActionResult
    ) -> Response:
        """Answer an action at once, or start its long-running operation (202 + Location, final body kept)."""
        ev = self.make_event(ctx, "Microsoft.Resources.ResourceActionSuccess", event_id, op_name, "Succeeded")
        if result.duration <= 0:
            if result.on_complete:
                result.on_complete()
            self.publish(ev)
            self.on_change()
            return Response(result.status, result.body)
        op = self.start_operation(
            namespace=provider.type.split("/")[0], location=rec.body.get("location", "westus"), kind="action",
            resource_id=rec.id, duration=result.duration, on_complete=result.on_complete, events=[ev],
            result=result.body,
        )
        if result.busy:
            rec.busy_op = op.id
        self.on_change()
        return Response(202, None, self._lro_headers(ctx, op, location=True))
