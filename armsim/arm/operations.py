"""Long-running operations: their clock, their status endpoints (``Azure-AsyncOperation``, ``Location``), the poll
hints (``Retry-After`` / ``retry-after-ms``) and the 409 a resource busy with one answers."""

from __future__ import annotations

import copy
import heapq
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from armsim.arm.core import SYSTEM_PRINCIPAL
from armsim.arm.events import Events
from armsim.arm.values import Operation, Response, utcnow_iso
from armsim.errors import ArmError
from armsim.provider import Ctx
from armsim.throttle import retry_after_headers

if TYPE_CHECKING:
    from armsim.engine import Engine  # the mixins are only ever parts of Engine


class Operations(Events):
    """Start, complete and report long-running operations."""

    def tick(self) -> None:
        """Complete every long-running operation whose time has come."""
        now = time.monotonic()
        while self._due and self._due[0][0] <= now:
            _, _, op_id = heapq.heappop(self._due)
            op = self.ops.get(op_id)
            if op is not None and op.status == "InProgress":
                self._complete(op)

    def next_due(self) -> float | None:
        return self._due[0][0] if self._due else None

    def _complete(self, op: Operation) -> None:
        op.status = "Failed" if op.fail else "Succeeded"
        if op.fail:
            op.error = {"code": "InternalServerError", "message": "The operation failed (fault injected by armsim)."}
        rec = self.store.get(op.resource_id) if op.resource_id else None
        if rec is not None and rec.busy_op == op.id:
            rec.busy_op = None
            if op.kind == "delete" and op.fail:
                rec.body.setdefault("properties", {})["provisioningState"] = "Failed"
            if op.kind == "put":
                props = rec.body.setdefault("properties", {})
                props["provisioningState"] = "Failed" if op.fail else "Succeeded"
                provider = self.provider_for(rec.type)
                if provider is not None and not op.fail:
                    provider.on_put_complete(Ctx(cast("Engine", self), SYSTEM_PRINCIPAL), rec)
        if op.on_complete is not None and not op.fail:
            op.on_complete()
        for ev in op.events:
            if op.fail:
                ev = dict(ev, eventType=ev["eventType"].replace("Success", "Failure"))
                ev["data"] = dict(ev["data"], status="Failed")
            self.publish(ev)
        self.on_change()

    def start_operation(
        self,
        *,
        namespace: str,
        location: str,
        kind: str,
        resource_id: str | None,
        duration: float,
        on_complete: Callable[[], None] | None = None,
        events: list[dict[str, Any]] | None = None,
        fail: bool = False,
        result: Any = None,
    ) -> Operation:
        op = Operation(
            id=str(uuid.uuid4()),
            namespace=namespace,
            location=location or "westus",
            kind=kind,
            resource_id=resource_id,
            due=time.monotonic() + max(duration, 0.0),
            started=utcnow_iso(),
            on_complete=on_complete,
            events=events or [],
            fail=fail,
            result=result,
        )
        self.ops[op.id] = op
        if duration <= 0:
            self._complete(op)
        elif duration != float("inf"):
            heapq.heappush(self._due, (op.due, next(self._seq), op.id))
        return op

    def finish_operation(self, op_id: str, error: dict[str, Any] | None = None) -> None:
        """Complete an operation started with ``duration=math.inf`` (its end depends on something outside time,
        e.g. Event Grid's webhook validation handshake). ``error`` ({code, message}) makes it fail."""
        op = self.ops.get(op_id)
        if op is None or op.status != "InProgress":
            return
        if error is not None:
            op.fail = True
            self._complete(op)
            op.error = error
        else:
            self._complete(op)

    def is_busy(self, resource_id: str) -> Operation | None:
        """The running operation on a resource, if any."""
        rec = self.store.get(resource_id)
        if rec is None or rec.busy_op is None:
            return None
        op = self.ops.get(rec.busy_op)
        return op if op is not None and op.status == "InProgress" else None

    def op_status_url(self, op: Operation, result: bool = False, api_version: str = "2024-07-01") -> str:
        leaf = "operationResults" if result else "operations"
        return (
            f"{self.base_url}subscriptions/{self.subscription_id}/providers/{op.namespace}/locations/{op.location}/"
            f"{leaf}/{op.id}?api-version={api_version}"
        )

    def _operation_status(self, op_id: str, result: bool) -> Response:
        op = self.ops.get(op_id)
        if op is None:
            raise ArmError(404, "OperationNotFound", f"The operation '{op_id}' was not found. It may have expired.")
        if result:
            if op.status == "InProgress":
                return Response(
                    202,
                    None,
                    {
                        "Location": self.op_status_url(op, result=True),
                        **retry_after_headers(self._poll_after(op), self.config.time_scale),
                    },
                )
            if op.status == "Failed":
                return Response(500, {"error": op.error})
            if op.result is not None:
                # an action's final body: the SDK's poller GETs the Location URL and deserializes this
                return Response(200, copy.deepcopy(op.result))
            return Response(204 if op.kind == "delete" else 200, None)
        body: dict[str, Any] = {"name": op.id, "status": op.status, "startTime": op.started}
        if op.error:
            body["error"] = op.error
        headers = retry_after_headers(self._poll_after(op), self.config.time_scale) if op.status == "InProgress" else {}
        return Response(200, body, headers)

    def _poll_after(self, op: Operation) -> float:
        """Seconds a client should wait before polling ``op`` again: the time it has left, at most 1 s (scaled).

        ARM sends the hint as ``Retry-After`` (whole seconds) on the answer that starts an operation and on each
        in-progress poll, and clients wait that long (ARM RPC, v1.0/Addendum.md, "202 Accepted and Location
        Headers"; azure-core's ARM poller reads it from every answer). The value is the provider's: NRP answered a
        VNet PUT with ``Retry-After: 3`` (Azure/azure-powershell#7406) while the RPC asks for at least 10 s on
        Location polls. armsim's cap of 1 s is its own choice (UNCONFIRMED as NRP's value on polls): it keeps the
        time to notice completion small, at the cost of about one poll per second of an operation's duration.
        """
        return max(0.001, min(op.due - time.monotonic(), 1.0 * max(self.config.time_scale, 0.001)))

    def _lro_headers(self, ctx: Ctx, op: Operation, *, location: bool) -> dict[str, str]:
        h = {"Azure-AsyncOperation": self.op_status_url(op, api_version=ctx.api_version)}
        if location:
            h["Location"] = self.op_status_url(op, result=True, api_version=ctx.api_version)
        h.update(
            retry_after_headers(self._poll_after(op) if op.status == "InProgress" else 0.001, self.config.time_scale)
        )
        return h

    def _busy_error(self, ctx: Ctx, op: Operation, rid: str) -> ArmError:
        return ArmError(
            409,
            "AnotherOperationInProgress",
            f"Another operation on this or dependent resource is in progress. To retrieve status of the operation "
            f"use uri: {self.op_status_url(op, api_version=ctx.api_version)}. Resource: {rid}",
        )
