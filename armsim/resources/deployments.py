"""``Microsoft.Resources/deployments`` at resource-group scope: PUT, GET, HEAD, DELETE, validate, cancel, the
operation status az polls, and the deployment's operations.

Sources: azure-rest-api-specs, specification/resources/resource-manager/Microsoft.Resources/stable/2024-11-01/
resources.json (``Deployments_CreateOrUpdate`` answers 200/201 with the deployment, ``provisioningState``
``Accepted``, and an ``Azure-AsyncOperation`` header; ``Deployments_Get``; ``Deployments_Validate``;
``Deployments_Cancel`` 204; ``DeploymentOperations_List``). The operation status body is ``{"status": "Running"}`` /
``{"status": "Succeeded"}`` (tests/data/reference/lro_deployment_asyncoperation_status_*.json), the status URL is
``.../deployments/{name}/operationStatuses/{id}`` (UNCONFIRMED beyond public az --debug logs). A failed deployment's
error is ``DeploymentFailed`` with the failing resources' errors as details (Microsoft Learn, azure-resource-manager/
troubleshooting/common-deployment-errors; ``DeploymentActive`` for a PUT while the same deployment runs; template
errors are ``InvalidTemplate``).

Resources are deployed through armsim's own providers (``Engine.put``: the same validation, long-running
operations and events as a direct PUT, with the deployment's correlation id), dependencies first; a resource whose
dependencies are still being provisioned waits for their operations. The deployment's own events are
``Microsoft.Resources.ResourceWriteSuccess``/``Failure`` with operationName ``Microsoft.Resources/deployments/write``
(Microsoft Learn, event-grid/event-schema-resource-groups), sent when it finishes.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from armsim import ids
from armsim.engine import SYSTEM_PRINCIPAL, Engine, Response, utcnow_iso
from armsim.errors import ArmError
from armsim.provider import Ctx
from armsim.resources import expressions as ex
from armsim.resources.expressions import TemplateError
from armsim.resources.template import TEMPLATE_KEYS, Plan, Planned, TemplateScope, build_plan, output_type

TYPE = "Microsoft.Resources/deployments"
FAILED_MESSAGE = ("At least one resource deployment operation failed. Please list deployment operations for details. "
                  "Please see https://aka.ms/arm-deployment-operations for usage details.")


@dataclass
class ResourceRun:
    planned: Planned
    state: str = "Pending"  # Pending | Running | Succeeded | Failed
    op_id: str | None = None
    error: dict[str, Any] | None = None
    started: str = ""
    status_code: str = ""
    attempts: int = 0
    retry_at: float = 0.0  # monotonic time before which a retried PUT is not sent again


@dataclass
class Deployment:
    id: str
    name: str
    resource_group: str
    request: dict[str, Any]
    plan: Plan
    scope: TemplateScope
    ctx: Ctx
    state: str = "Accepted"
    op_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)
    timestamp: str = field(default_factory=utcnow_iso)
    runs: list[ResourceRun] = field(default_factory=list)
    outputs: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    duration: float | None = None  # seconds, once finished

    @property
    def active(self) -> bool:
        return self.state in ("Accepted", "Running")


def template_error(err: TemplateError | str) -> ArmError:
    text = str(err)
    if not text.startswith("Deployment template validation failed"):
        text = f"Deployment template validation failed: '{text}'."
    return ArmError(400, "InvalidTemplate", text)


class Deployments:
    """Deployments of one simulator (kept in memory; they do not survive a restart)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.items: dict[str, Deployment] = {}

    # ------------------------------------------------------------------------------------------------ HTTP
    def handle(self, ctx: Ctx, method: str, rg: str, rest: list[str], query: dict[str, str], body: bytes) -> Response:
        if self.engine.resource_group(rg) is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{rg}' could not be found.")
        if not rest:
            if method != "GET":
                raise ArmError(405, "MethodNotAllowed", f"{method} is not supported on the deployments collection.")
            listed = [self.render(d) for d in self.items.values() if d.resource_group.lower() == rg.lower()]
            return self.engine._page(listed, query, f"subscriptions/{self.engine.subscription_id}/resourceGroups/"
                                                    f"{rg}/providers/{TYPE}")
        name, tail = rest[0], [t.lower() for t in rest[1:]]
        did = f"/subscriptions/{self.engine.subscription_id}/resourceGroups/{rg}/providers/{TYPE}/{name}"
        dep = self.items.get(ids.key(did))
        if not tail:
            if method in ("GET", "HEAD"):
                if dep is None:
                    if method == "HEAD":
                        return Response(404)
                    raise ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
                return Response(204) if method == "HEAD" else Response(200, self.render(dep))
            if method == "PUT":
                return self.create(ctx, did, name, rg, body)
            if method == "DELETE":
                if dep is None:
                    return Response(204)
                if dep.active:
                    raise ArmError(409, "DeploymentActive", f"The deployment '{name}' cannot be deleted while it is "
                                                            "still active. Cancel it or wait for it to finish.")
                del self.items[ids.key(did)]
                return Response(200)
        elif tail == ["validate"] and method == "POST":
            return self.validate(ctx, did, name, rg, body)
        elif tail == ["cancel"] and method == "POST":
            if dep is None:
                raise ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
            if not dep.active:
                raise ArmError(409, "DeploymentCannotBeCancelled", f"The deployment '{name}' cannot be cancelled: "
                                                                    f"it is {dep.state}.")
            self._finish(dep, "Canceled", None)
            return Response(204)
        elif len(tail) == 2 and tail[0] == "operationstatuses" and method == "GET":
            if dep is None or dep.op_id != rest[2]:
                raise ArmError(404, "OperationNotFound", f"The operation '{rest[2]}' was not found.")
            self._advance(dep)
            status: dict[str, Any] = {"status": "Running" if dep.active else dep.state}
            if dep.error is not None:
                status["error"] = dep.error
            return Response(200, status)
        elif tail == ["operations"] and method == "GET":
            if dep is None:
                raise ArmError(404, "DeploymentNotFound", f"Deployment '{name}' could not be found.")
            return Response(200, {"value": [self._operation(dep, r) for r in dep.runs if r.state != "Pending"]})
        raise ArmError(404, "InvalidResourceType", f"armsim does not serve '{method} .../deployments/{'/'.join(rest)}'"
                                                   ". Served: PUT/GET/HEAD/DELETE of a deployment, validate, cancel, "
                                                   "operations, operationStatuses.")

    def _parse(self, ctx: Ctx, did: str, name: str, rg: str, body: bytes) -> tuple[dict[str, Any], Plan,
                                                                                   TemplateScope]:
        request = json.loads(body or b"null")
        props = request.get("properties") if isinstance(request, dict) else None
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content must be a deployment with "
                                                         "'properties'.")
        if props.get("templateLink") or props.get("parametersLink"):
            raise ArmError(400, "InvalidTemplate", "templateLink and parametersLink are not supported by armsim: "
                                                   "send the template inline.")
        mode = str(props.get("mode", "")).lower()
        if mode != "incremental":
            raise ArmError(400, "InvalidDeploymentMode" if mode != "complete" else "InvalidTemplate",
                           f"Deployment mode '{props.get('mode')}' is not supported by armsim (Incremental only).")
        template = props.get("template")
        if not isinstance(template, dict):
            raise template_error("The request content has no 'template' object")
        rg_body = copy.deepcopy(self.engine.resource_group(rg).body)  # type: ignore[union-attr]
        try:
            scope = TemplateScope(template, props.get("parameters") or {}, self.engine.subscription_id,
                                  self.engine.tenant_id, rg_body, name)
            plan = build_plan(template, scope)
        except TemplateError as err:
            raise template_error(err) from err
        for planned in plan.resources:
            if self._provider_path(planned.id) is None:
                raise ArmError(400, "NoRegisteredProviderFound", f"No registered resource provider found for "
                                                                 f"resource type '{planned.type}' (armsim).")
        return request, plan, scope

    def validate(self, ctx: Ctx, did: str, name: str, rg: str, body: bytes) -> Response:
        request, plan, scope = self._parse(ctx, did, name, rg, body)
        out = self._body(did, name, request, plan, "Succeeded", utcnow_iso(), ctx.correlation_id)
        out["properties"]["validatedResources"] = [{"id": p.id} for p in plan.resources]
        return Response(200, out)

    def create(self, ctx: Ctx, did: str, name: str, rg: str, body: bytes) -> Response:
        current = self.items.get(ids.key(did))
        if current is not None and current.active:
            raise ArmError(409, "DeploymentActive", f"The deployment '{name}' cannot be saved, because this would "
                                                    "overwrite an existing deployment which is still active.")
        request, plan, scope = self._parse(ctx, did, name, rg, body)
        dep = Deployment(did, name, rg, request, plan, scope,
                         Ctx(self.engine, ctx.principal, ctx.api_version, ctx.correlation_id, ctx.client_request_id,
                             "PUT", ctx.url))
        dep.runs = [ResourceRun(p) for p in plan.resources]
        scope.referencer = lambda target, api, full: self._reference(dep, target, full)
        self.items[ids.key(did)] = dep
        answer = self.render(dep)
        self._advance(dep)
        url = f"{self.engine.base_url}{did.lstrip('/')}/operationStatuses/{dep.op_id}?api-version={ctx.api_version}"
        return Response(201 if current is None else 200, answer,
                        {"Azure-AsyncOperation": url, "Retry-After": "1",
                         "retry-after-ms": str(max(1, round(1000 * self.engine.config.time_scale)))})

    # ------------------------------------------------------------------------------------------------ running
    def _provider_path(self, rid: str) -> Any:
        p = ids.parse(rid)
        if p is None:
            return None
        if self.engine.provider_for(p.full_type) is not None:
            return p
        parent = self.engine.provider_for(f"{p.namespace}/{'/'.join(p.types[:-1])}") if len(p.types) > 1 else None
        if parent is not None and p.types[-1].lower() in {k.lower() for k in parent.children}:
            return p
        return None

    def _advance(self, dep: Deployment) -> None:
        """Start what is ready, collect what finished, and finish the deployment when nothing is left to do."""
        if not dep.active:
            return
        dep.state = "Running"
        progressed = True
        while progressed:
            progressed = False
            for run in dep.runs:
                if run.state == "Running":
                    op = self.engine.ops.get(run.op_id or "")
                    if op is None or op.status == "Succeeded":
                        run.state, progressed = "Succeeded", True
                    elif op.status == "Failed":
                        run.state, progressed = "Failed", True
                        run.error = op.error or {"code": "ResourceDeploymentFailure",
                                                 "message": "The resource operation completed with terminal "
                                                            "provisioning state 'Failed'."}
            done = {r.planned.id.lower() for r in dep.runs if r.state == "Succeeded"}
            failed = any(r.state == "Failed" for r in dep.runs)
            if not failed:
                for run in dep.runs:
                    if run.state == "Pending" and run.planned.depends_on <= done and run.retry_at <= time.monotonic():
                        self._start(dep, run)
                        progressed = True
                        break  # re-scan: the start may have finished at once
        if any(r.state == "Running" for r in dep.runs):
            return
        failures = [r for r in dep.runs if r.state == "Failed"]
        if not failures and any(r.state == "Pending" for r in dep.runs):
            return  # a retry is scheduled
        if failures:
            self._finish(dep, "Failed", {"code": "DeploymentFailed", "message": FAILED_MESSAGE,
                                         "details": [r.error for r in failures if r.error]})
            return
        try:
            dep.outputs = {
                k: {"type": output_type(str(v.get("type", "string"))),
                    "value": ex.evaluate_value(v["value"], dep.scope.functions)}
                for k, v in dep.plan.outputs.items()
            }
        except TemplateError as err:
            self._finish(dep, "Failed", {"code": "DeploymentOutputEvaluationFailed", "message": str(err)})
            return
        self._finish(dep, "Succeeded", None)

    def _start(self, dep: Deployment, run: ResourceRun) -> None:
        planned = run.planned
        run.started = utcnow_iso()
        scope = dep.scope
        scope.current_copy = (planned.loop, planned.index) if planned.index is not None else None
        try:
            body = ex.evaluate_value({k: v for k, v in planned.raw.items() if k not in TEMPLATE_KEYS},
                                     scope.functions)
        except TemplateError as err:
            run.state, run.error = "Failed", {"code": "InvalidTemplate", "message": str(err)}
            return
        finally:
            scope.current_copy = None
        ctx = Ctx(self.engine, dep.ctx.principal, str(planned.raw.get("apiVersion")), dep.ctx.correlation_id,
                  dep.ctx.client_request_id, "PUT", f"{self.engine.base_url}{planned.id.lstrip('/')}")
        try:
            resp = self._put(ctx, planned.id, body)
        except ArmError as err:
            if (err.status == 429 or err.status >= 500) and run.attempts < MAX_ATTEMPTS:
                # ARM's deployment engine retries a resource PUT that is throttled or retryable, after the hint the
                # provider gave (UNCONFIRMED: the attempt limit; Learn says deployments retry transient errors)
                run.attempts += 1
                wait = _retry_hint(err.headers, self.engine.config.time_scale)
                run.retry_at = time.monotonic() + wait
                self.engine.start_operation(namespace="Microsoft.Resources", location=str(
                    dep.scope.rg_body.get("location", "")), kind="action", resource_id=None, duration=wait + 1e-4,
                    on_complete=lambda: self._advance(dep))
                return
            run.state, run.status_code = "Failed", str(err.status)
            run.error = {"code": err.code, "message": err.message, "details": err.details}
            return
        run.status_code = str(resp.status)
        # a child resource (a subnet) is written as its parent: the parent carries the running operation
        rec = self.engine.store.get(planned.id) or self.engine.store.get(ids.parent_id(planned.id))
        op = self.engine.ops.get(rec.busy_op) if rec is not None and rec.busy_op else None
        if op is None or op.status != "InProgress":
            run.state = "Succeeded"
            return
        run.state, run.op_id = "Running", op.id
        # come back when the resource's operation is due (its own completion is queued first, at the same time)
        self.engine.start_operation(namespace="Microsoft.Resources", location=dep.scope.rg_body.get("location", ""),
                                    kind="action", resource_id=None, duration=max(op.due - time.monotonic(), 0) + 1e-4,
                                    on_complete=lambda: self._advance(dep))

    def _put(self, ctx: Ctx, rid: str, body: dict[str, Any]) -> Response:
        p = self._provider_path(rid)
        assert p is not None  # checked when the plan was made
        provider = self.engine.provider_for(p.full_type)
        if provider is not None:
            return self.engine.put(ctx, provider, rid, body)
        if self.engine.store.get(p.resource_id(len(p.names) - 1)) is None:
            raise ArmError(404, "ParentResourceNotFound", f"The parent resource of '{rid}' was not found.")
        parent = self.engine.provider_for(f"{p.namespace}/{'/'.join(p.types[:-1])}")
        assert parent is not None
        prop = {k.lower(): v for k, v in parent.children.items()}[p.types[-1].lower()]
        return self.engine._child(ctx, parent, p, prop, "PUT", {}, json.dumps(body).encode(), {})

    def _reference(self, dep: Deployment, target: str, full: bool) -> Any:
        rid = target
        if not ids.is_resource_id(target):
            matches = [r.planned.id for r in dep.runs if r.planned.name.lower() == target.lower()]
            if not matches:
                raise TemplateError(f"The template resource '{target}' is not found (reference() of a resource not "
                                    "declared in this template needs its resource id).")
            rid = matches[0]
        body = self._current(rid)
        if body is None:
            raise TemplateError(f"The Resource '{rid}' under resource group '{dep.resource_group}' was not found.")
        return body if full else body.get("properties", {})

    def _current(self, rid: str) -> dict[str, Any] | None:
        """A resource as ARM answers it now; a child (a subnet, a pool) is read from its parent's collection."""
        ctx = Ctx(self.engine, SYSTEM_PRINCIPAL)
        rec = self.engine.store.get(rid)
        if rec is not None:
            return self.engine.render(ctx, rec)
        p = ids.parse(rid)
        if p is None or len(p.types) < 2:
            return None
        parent = self.engine.store.get(p.resource_id(len(p.names) - 1))
        provider = self.engine.provider_for(f"{p.namespace}/{'/'.join(p.types[:-1])}")
        if parent is None or provider is None:
            return None
        prop = {k.lower(): v for k, v in provider.children.items()}.get(p.types[-1].lower())
        children = (self.engine.render(ctx, parent).get("properties") or {}).get(prop or "") or []
        return next((c for c in children if str(c.get("name", "")).lower() == p.names[-1].lower()), None)

    def _finish(self, dep: Deployment, state: str, error: dict[str, Any] | None) -> None:
        dep.state, dep.error = state, error
        dep.duration = time.monotonic() - dep.started
        succeeded = state == "Succeeded"
        event = self.engine.make_event(
            dep.ctx, "Microsoft.Resources.ResourceWriteSuccess" if succeeded else
            "Microsoft.Resources.ResourceWriteFailure", dep.id, f"{TYPE}/write", "Succeeded" if succeeded else state)
        self.engine.publish(event)
        self.engine.on_change()

    # ------------------------------------------------------------------------------------------------ bodies
    def _body(self, did: str, name: str, request: dict[str, Any], plan: Plan, state: str, timestamp: str,
              correlation_id: str) -> dict[str, Any]:
        props = request.get("properties") or {}
        template_hash = str(int(hashlib.sha256(json.dumps(props.get("template"), sort_keys=True).encode())
                                .hexdigest()[:15], 16))
        providers: dict[str, dict[str, set[str]]] = {}
        for p in plan.resources:
            ns, _, rtype = p.type.partition("/")
            loc = str(p.raw.get("location", ""))
            providers.setdefault(ns, {}).setdefault(rtype, set()).add(loc if not ex.is_expression(loc) else "")
        return {
            "id": did,
            "name": name,
            "type": TYPE,
            "properties": {
                "templateHash": template_hash,
                "parameters": plan.parameters,
                "mode": "Incremental",
                "provisioningState": state,
                "timestamp": timestamp,
                "duration": "PT0S",
                "correlationId": correlation_id,
                "providers": [{"namespace": ns, "resourceTypes": [
                    {"resourceType": t, "locations": sorted(x for x in locs if x)} for t, locs in types.items()]}
                    for ns, types in providers.items()],
                "dependencies": [
                    {"id": p.id, "resourceType": p.type, "resourceName": p.name,
                     "dependsOn": [{"id": d, "resourceType": _type_of(plan, d), "resourceName": _name_of(plan, d)}
                                   for d in sorted(p.depends_on)]}
                    for p in plan.resources if p.depends_on
                ],
            },
        }

    def render(self, dep: Deployment) -> dict[str, Any]:
        out = self._body(dep.id, dep.name, dep.request, dep.plan, dep.state, dep.timestamp, dep.ctx.correlation_id)
        props = out["properties"]
        props["duration"] = f"PT{dep.duration if dep.duration is not None else time.monotonic() - dep.started:.3f}S"
        if dep.state == "Succeeded":
            props["outputs"] = copy.deepcopy(dep.outputs or {})
            props["outputResources"] = [{"id": r.planned.id} for r in dep.runs]
        if dep.error is not None:
            props["error"] = copy.deepcopy(dep.error)
        return out

    def _operation(self, dep: Deployment, run: ResourceRun) -> dict[str, Any]:
        op_id = hashlib.sha256(f"{dep.id}|{run.planned.id}".encode()).hexdigest()[:16].upper()
        props: dict[str, Any] = {
            "provisioningOperation": "Create",
            "provisioningState": run.state,
            "timestamp": run.started,
            "duration": "PT0S",
            "trackingId": str(uuid.uuid5(uuid.NAMESPACE_URL, op_id)),
            "statusCode": "OK" if run.state == "Succeeded" else ("BadRequest" if run.state == "Failed" else "Accepted"),
            "targetResource": {"id": run.planned.id, "resourceType": run.planned.type,
                               "resourceName": run.planned.name},
        }
        if run.error is not None:
            props["statusMessage"] = {"status": "Failed", "error": run.error}
        return {"id": f"{dep.id}/operations/{op_id}", "operationId": op_id, "properties": props}


MAX_ATTEMPTS = 10


def _retry_hint(headers: dict[str, str], time_scale: float) -> float:
    """Seconds to wait before retrying, from ``retry-after-ms`` or ``Retry-After`` (1 s, time-scaled, if neither)."""
    low = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in low:
            return max(float(low["retry-after-ms"]) / 1000, 0.001)
        if "retry-after" in low:
            return max(float(low["retry-after"]), 0.001)
    except ValueError:
        pass
    return max(time_scale, 0.001)


def _type_of(plan: Plan, rid: str) -> str:
    return next((p.type for p in plan.resources if p.id.lower() == rid), "")


def _name_of(plan: Plan, rid: str) -> str:
    return next((p.name for p in plan.resources if p.id.lower() == rid), "")
