"""armsim's ARM engine: the request semantics every Azure Resource Manager call shares.

Authentication, api-version, throttling, fault injection, ETags (If-Match / If-None-Match), long-running operations
(``Azure-AsyncOperation`` for PUT, ``Location`` for DELETE and actions), a resource busy with a running operation,
child-resource endpoints, paging and the events ARM publishes after each operation. Resource-type specifics live in
``Provider`` classes registered with :meth:`Engine.register`.

The engine is synchronous and single-threaded: the web layer calls :meth:`Engine.handle` from one event loop, so no
locking is needed and every request sees a consistent store.
"""

from __future__ import annotations

import copy
import heapq
import itertools
import json
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from armsim import ids
from armsim.config import SimConfig
from armsim.errors import ArmError, not_found
from armsim.faults import NO_HINT, Faults
from armsim.provider import ActionResult, Ctx, Provider
from armsim.store import Record, Store
from armsim.throttle import Throttle, retry_after_headers

SYSTEM_PRINCIPAL: dict[str, Any] = {"oid": "00000000-0000-0000-0000-000000000000", "appid": "armsim", "name": "armsim"}

RESOURCE_GROUP_TYPE = "Microsoft.Resources/resourceGroups"


def utcnow_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering (fault injection)


@dataclass
class Operation:
    id: str
    namespace: str
    location: str
    kind: str  # put | delete | action
    resource_id: str | None
    due: float
    started: str
    status: str = "InProgress"
    error: dict[str, Any] | None = None
    on_complete: Callable[[], None] | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    fail: bool = False
    # the final body of an action (e.g. queryInboundNatRulePortMapping), answered by the Location poll once done;
    # None keeps the old answer (200 without a body)
    result: Any = None


def _norm_etag(value: str) -> str:
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    return v.strip('"')


def _kind(method: str) -> str:
    return {"GET": "read", "HEAD": "read", "DELETE": "delete", "POST": "action"}.get(method, "write")


_BUCKET = {"read": "reads", "write": "writes", "action": "writes", "delete": "deletes"}


class Engine:
    def __init__(self, config: SimConfig, subscription_id: str, tenant_id: str) -> None:
        self.config = config
        self.subscription_id = subscription_id
        self.tenant_id = tenant_id
        self.store = Store()
        self.throttle = Throttle(config)
        self.faults = Faults()
        self.providers: dict[str, Provider] = {}
        self.base_url = "https://127.0.0.1/"
        self.ops: dict[str, Operation] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self.request_log: list[dict[str, Any]] = []
        self.counters: Counter[str] = Counter()
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.token_verifier: Callable[[str], dict[str, Any] | None] = lambda token: None
        self.on_change: Callable[[], None] = lambda: None
        self.locations_of_subscription = ["westus", "eastus", "westeurope"]
        # called with (method, path, response) after every ARM request; providers add headers of their own here
        self.response_hooks: list[Callable[[str, str, Response], None]] = []
        # routes served by plugins before the generic resource routing (e.g. armsim.resources: deployments and the
        # resource listing); each returns None when the path is not its own
        self.routes: list[Callable[[Ctx, str, list[str], dict[str, str], dict[str, str], bytes], Response | None]] = []

    # ------------------------------------------------------------------------------------------------ registry
    def register(self, provider: Provider) -> None:
        self.providers[provider.type.lower()] = provider

    def provider_for(self, full_type: str) -> Provider | None:
        return self.providers.get(full_type.lower())

    # ------------------------------------------------------------------------------------------------ time
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
                    provider.on_put_complete(Ctx(self, SYSTEM_PRINCIPAL), rec)
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

    # ------------------------------------------------------------------------------------------------ events
    def publish(self, event: dict[str, Any]) -> None:
        for listener in list(self.event_listeners):
            listener(event)

    def make_event(
        self, ctx: Ctx, event_type: str, resource_id: str, operation_name: str, status: str
    ) -> dict[str, Any]:
        """An Azure Resource Manager event in Event Grid schema (topic is filled in by the system topic)."""
        p = ctx.principal
        claims = {
            "aud": self.base_url,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": str(p.get("iat", "")),
            "nbf": str(p.get("nbf", "")),
            "exp": str(p.get("exp", "")),
            "appid": p.get("appid", ""),
            "appidacr": "2",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": p.get("oid", ""),
            "http://schemas.microsoft.com/identity/claims/tenantid": self.tenant_id,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": p.get("oid", ""),
            "idtyp": "app",
            "ver": "1.0",
        }
        data: dict[str, Any] = {
            "authorization": {"scope": resource_id, "action": operation_name, "evidence": {"role": "Contributor"}},
            "claims": claims,
            "correlationId": ctx.correlation_id,
            "resourceProvider": operation_name.split("/")[0],
            "resourceUri": resource_id,
            "operationName": operation_name,
            "status": status,
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
        }
        if ctx.method in ("DELETE", "POST"):
            data["httpRequest"] = {
                "clientRequestId": ctx.client_request_id,
                "clientIpAddress": "127.0.0.1",
                "method": ctx.method,
                "url": ctx.url,
            }
        return {
            "subject": resource_id,
            "eventType": event_type,
            "eventTime": utcnow_iso(),
            "id": str(uuid.uuid4()),
            "data": data,
            "dataVersion": "2",
            "metadataVersion": "1",
        }

    # ------------------------------------------------------------------------------------------------ HTTP entry
    def handle(
        self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: bytes, url: str
    ) -> Response:
        """Serve one ARM request. ``headers`` keys are lower case."""
        self.tick()
        started = time.perf_counter()
        kind = _kind(method)
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
            bucket = _BUCKET[kind]
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

    def _authenticate(self, headers: dict[str, str]) -> dict[str, Any]:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing. Send 'Authorization: Bearer <token>' "
                "with a token from the managed identity endpoint.",
            )
        claims = self.token_verifier(auth[7:].strip())
        if claims is None:
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid or expired. Get a new token from the managed identity endpoint.",
            )
        return claims

    def _throttled(self, principal: dict[str, Any], kind: str, entry: dict[str, Any]) -> Response | None:
        taken = self.throttle.take_both(self.subscription_id, principal.get("oid", ""), _BUCKET[kind])
        entry["remaining"], entry["remaining_global"] = taken.remaining, taken.remaining_global
        if taken.allowed:
            return None
        self.counters["throttled"] += 1
        who = (
            f"subscription '{self.subscription_id}' and principal '{principal.get('oid')}'"
            if taken.scope == "principal"
            else f"subscription '{self.subscription_id}' (all principals together: the global subscription limit)"
        )
        return Response(
            429,
            {
                "error": {
                    "code": "SubscriptionRequestsThrottled",
                    "message": f"Number of {_BUCKET[kind]} requests for {who} exceeded the limit. Please try again "
                    f"after '{max(1, round(taken.wait))}' seconds.",
                }
            },
            retry_after_headers(taken.wait, self.config.time_scale),
        )

    def _fault(self, kind: str, method: str, path: str) -> Response | None:
        picked = self.faults.pick(kind, method, path)
        if picked is None:
            return None
        outcome, retry_after = picked
        self.counters["faults"] += 1
        if outcome == "drop":
            return Response(0, drop=True)
        if outcome == "fail-async":
            self._fail_next_op = True
            return None
        status = int(outcome)
        codes = {
            429: "TooManyRequests",
            500: "InternalServerError",
            503: "ServiceUnavailable",
            409: "Conflict",
            412: "PreconditionFailed",
            502: "BadGateway",
        }
        headers = retry_after_headers(
            retry_after if retry_after is not None else 1.0 * self.config.time_scale, self.config.time_scale
        )
        if (status != 429 and retry_after is None) or retry_after == NO_HINT:
            headers = {}
        return Response(
            status,
            {"error": {"code": codes.get(status, "InjectedFault"), "message": f"Fault injected by armsim ({status})."}},
            headers,
        )

    # ------------------------------------------------------------------------------------------------ routing
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

    # ------------------------------------------------------------------------------------------------ resource groups
    def rg_id(self, name: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{name}"

    def resource_group(self, name: str) -> Record | None:
        return self.store.get(self.rg_id(name))

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
            return Response(
                202,
                None,
                {"Location": self.op_status_url(op, result=True, api_version=ctx.api_version), "Retry-After": "1"},
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

    # ------------------------------------------------------------------------------------------------ operations
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
        return max(0.001, min(op.due - time.monotonic(), 1.0 * max(self.config.time_scale, 0.001)))

    def _lro_headers(self, ctx: Ctx, op: Operation, *, location: bool) -> dict[str, str]:
        h = {"Azure-AsyncOperation": self.op_status_url(op, api_version=ctx.api_version)}
        if location:
            h["Location"] = self.op_status_url(op, result=True, api_version=ctx.api_version)
        h.update(
            retry_after_headers(self._poll_after(op) if op.status == "InProgress" else 0.001, self.config.time_scale)
        )
        return h

    # ------------------------------------------------------------------------------------------------ resources
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

    def render(self, ctx: Ctx, rec: Record) -> dict[str, Any]:
        provider = self.provider_for(rec.type)
        body = copy.deepcopy(rec.body)
        return provider.render(ctx, body) if provider else body

    def _etag_headers(self, body: dict[str, Any]) -> dict[str, str]:
        return {"ETag": body["etag"]} if isinstance(body.get("etag"), str) else {}

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

    def _check_preconditions(self, headers: dict[str, str], current_etag: str | None, exists: bool, what: str) -> None:
        if_match = headers.get("if-match")
        if if_match is not None:
            if not exists:
                raise ArmError(
                    412,
                    "PreconditionFailed",
                    f"Precondition failed: {what} does not exist, so If-Match '{if_match}' cannot match. Re-read it.",
                )
            if if_match.strip() != "*" and _norm_etag(if_match) != _norm_etag(current_etag or ""):
                raise ArmError(
                    412,
                    "PreconditionFailed",
                    f"Precondition failed: the ETag '{if_match}' does not match the current ETag '{current_etag}' of "
                    f"{what} (EtagMismatch). Someone else changed it: read it again, re-apply your change, and retry.",
                )
        if_none = headers.get("if-none-match")
        if if_none is not None and if_none.strip() == "*" and exists:
            raise ArmError(
                412,
                "PreconditionFailed",
                f"Precondition failed: {what} already exists and If-None-Match is '*'. Use If-Match to update it.",
            )

    def _busy_error(self, ctx: Ctx, op: Operation, rid: str) -> ArmError:
        return ArmError(
            409,
            "AnotherOperationInProgress",
            f"Another operation on this or dependent resource is in progress. To retrieve status of the operation "
            f"use uri: {self.op_status_url(op, api_version=ctx.api_version)}. Resource: {rid}",
        )

    def _new_etag(self, provider: Provider, rec: Record | None) -> str | None:
        if provider.etag_style == "network":
            return f'W/"{uuid.uuid4()}"'
        if provider.etag_style == "compute":
            n = int(rec.meta.get("etag_n", 0)) + 1 if rec else 1
            return f'"{n}"'
        return None

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

    # ------------------------------------------------------------------------------------------------ write paths
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

    # ------------------------------------------------------------------------------------------------ children
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

    # ------------------------------------------------------------------------------------------------ internal API
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

    def ensure_resource_group(self, name: str, location: str) -> None:
        ctx = Ctx(self, SYSTEM_PRINCIPAL, method="PUT")
        self._resource_group(ctx, "PUT", name, json.dumps({"location": location}).encode())

    def reset_log(self) -> None:
        self.request_log.clear()
        self.counters.clear()
