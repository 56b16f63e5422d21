"""armsim's ARM engine: the request semantics every Azure Resource Manager call shares.

Authentication, api-version, throttling, fault injection, ETags (If-Match / If-None-Match), long-running operations
(``Azure-AsyncOperation`` for PUT, ``Location`` for DELETE and actions), a resource busy with a running operation,
child-resource endpoints, paging and the events ARM publishes after each operation — one concern per module in
``armsim/arm/``, composed here. Resource-type specifics live in ``Provider`` classes registered with
:meth:`Engine.register`.

The engine is synchronous and single-threaded: the web layer calls :meth:`Engine.handle` from one event loop, so no
locking is needed and every request sees a consistent store.
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from typing import Any

from armsim import ids
from armsim.arm.admission import BUCKETS, Admission, request_kind
from armsim.arm.core import SYSTEM_PRINCIPAL
from armsim.arm.resource_groups import RESOURCE_GROUP_TYPE
from armsim.arm.routing import Routing
from armsim.arm.values import Operation, Response, utcnow_iso
from armsim.errors import ArmError
from armsim.provider import Ctx

__all__ = ["RESOURCE_GROUP_TYPE", "SYSTEM_PRINCIPAL", "Engine", "Operation", "Response", "utcnow_iso"]


class Engine(Admission, Routing):
    """One simulated ARM endpoint: :meth:`handle` serves a request; the rest is the internal API for providers,
    scenarios and the control endpoint."""

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes, url: str
    ) -> Response:
        """Serve one ARM request. ``headers`` keys are lower case."""
        self.tick()
        started = time.perf_counter()
        kind = request_kind(method)
        entry: dict[str, Any] = {
            "method": method,
            "path": path,
            "api_version": query.get("api-version"),
            "kind": kind,
            "client_request_id": headers.get("x-ms-client-request-id", ""),
            "correlation_id": headers.get("x-ms-correlation-request-id") or str(uuid.uuid4()),
            "if_match": headers.get("if-match"),
            "time": utcnow_iso(),
        }
        principal: dict[str, Any] | None = None
        try:
            principal = self._authenticate(headers)
            entry["principal"] = principal.get("oid")
            resp = self._throttled(principal, kind, entry)
            if resp is None:
                resp = self._fault(kind, method, path)
            if resp is None:
                if "api-version" not in query:
                    raise ArmError(
                        400,
                        "MissingApiVersionParameter",
                        "The api-version query parameter (?api-version=) is required for all requests.",
                    )
                ctx = Ctx(
                    self,
                    principal,
                    api_version=query["api-version"],
                    correlation_id=entry["correlation_id"],
                    client_request_id=entry["client_request_id"],
                    method=method,
                    url=url,
                )
                resp = self._route(ctx, method, path, query, headers, body)
        except ArmError as err:
            resp = Response(err.status, err.body(), dict(err.headers))
        except json.JSONDecodeError as err:
            resp = Response(
                400,
                ArmError(
                    400, "InvalidRequestFormat", f"Cannot parse the request body as JSON: {err}. Send a JSON object."
                ).body(),
            )
        resp.headers.setdefault("x-ms-request-id", str(uuid.uuid4()))
        resp.headers["x-ms-correlation-request-id"] = entry["correlation_id"]
        if principal is not None and "remaining" in entry:
            # ARM reports what is left in the bucket this request used (the caller's and the subscription's global
            # one), after taking this request's token: the figures decrease request by request (see throttle.py)
            bucket = BUCKETS[kind]
            resp.headers[f"x-ms-ratelimit-remaining-subscription-{bucket}"] = str(entry["remaining"])
            resp.headers[f"x-ms-ratelimit-remaining-subscription-global-{bucket}"] = str(entry["remaining_global"])
        if principal is not None:
            for hook in self.response_hooks:
                hook(method, path, resp)
        entry["status"] = resp.status
        entry["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
        if isinstance(resp.body, dict) and "error" in resp.body and resp.status >= 400:
            entry["error_code"] = resp.body["error"].get("code")
        self.request_log.append(entry)
        self.counters[f"requests.{kind}"] += 1
        self.counters[f"status.{resp.status}"] += 1
        if kind != "read" and resp.status < 300:
            self.counters["arm_writes"] += 1
        return resp

    def internal_put(self, resource_id: str, body: dict[str, Any], *, principal: dict[str, Any] | None = None,
                     lro: bool = False) -> dict[str, Any]:
        """Write a resource as if through ARM (validation, back-references, events) — for scenarios and providers."""
        p = ids.parse(resource_id)
        if p is None:
            raise ValueError(f"not a resource id: {resource_id}")
        provider = self.provider_for(p.full_type)
        ctx = Ctx(self, principal or SYSTEM_PRINCIPAL, method="PUT")
        if provider is None:
            parent_provider = self.provider_for(f"{p.namespace}/{'/'.join(p.types[:-1])}")
            if parent_provider is None:
                raise ValueError(f"no provider for {p.full_type}")
            prop = {k.lower(): v for k, v in parent_provider.children.items()}[p.types[-1].lower()]
            resp = self._child(ctx, parent_provider, p, prop, "PUT", {}, json.dumps(body).encode(), {})
            return resp.body
        resp = self.put(ctx, provider, resource_id, copy.deepcopy(body), lro=lro)
        return resp.body

    def internal_delete(self, resource_id: str, *, principal: dict[str, Any] | None = None) -> None:
        rec = self.store.get(resource_id)
        if rec is not None:
            self.delete(Ctx(self, principal or SYSTEM_PRINCIPAL, method="DELETE"), rec)

    def reset_log(self) -> None:
        self.request_log.clear()
        self.counters.clear()
