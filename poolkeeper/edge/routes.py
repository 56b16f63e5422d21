"""The route table: every HTTP route poolkeeper serves, and ``dispatch`` — the one way a request reaches a handler.

A :class:`Route` says everything the three consumers need: the Azure Functions blueprints in ``handlers/`` register
one function per route (name, method, route template, auth level), the OpenAPI document is generated from the same
entries (schemas, flags, answers), and :func:`dispatch` enforces them (query flags, path parameters, body schema)
before the handler runs. Adding a route is one entry in :data:`ROUTES` (plus its handler).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import parse_qsl, urlsplit

from poolkeeper.edge import schemas as s
from poolkeeper.edge.answer import HttpAnswer
from poolkeeper.edge.errors import InvalidRequest, NotFound, answer_for
from poolkeeper.edge.limits import MAX_BODY_BYTES, check_size, parse_json
from poolkeeper.edge.query import parse_flags
from poolkeeper.edge.schema import Schema, problems

if TYPE_CHECKING:
    from poolkeeper.reconciler import Reconciler
    from poolkeeper.workflows.operations import Workflows


class Services(Protocol):
    """What handlers work with, built once per process by whoever serves the routes (``handlers/``)."""

    def reconciler(self) -> Reconciler: ...

    def workflows(self) -> Workflows: ...


@dataclass(frozen=True)
class EdgeRequest:
    """A request as the edge sees it, whoever received it (Functions host or local host)."""

    method: str
    query: tuple[tuple[str, str], ...]
    route_params: Mapping[str, str]
    body: bytes

    @classmethod
    def from_parts(cls, method: str, url: str, params: Mapping[str, str], route_params: Mapping[str, str],
                   body: bytes | None) -> EdgeRequest:
        """The raw query string of ``url`` when there is one (repeated names stay visible), else ``params``."""
        raw_query = urlsplit(url).query
        pairs = parse_qsl(raw_query, keep_blank_values=True) if raw_query else list(params.items())
        return cls(method.upper(), tuple(pairs), dict(route_params), body or b"")


@dataclass(frozen=True)
class Call:
    """A request that passed its route's checks: the validated body, the flags, the path parameters."""

    body: Any
    flags: dict[str, bool]
    path: dict[str, str]


Handler = Callable[[Services, Call], HttpAnswer]


@dataclass(frozen=True)
class Route:
    name: str  # the Functions function name
    method: str
    route: str  # Functions route template, under /api/
    auth: str  # "function" (key required) or "anonymous"
    blueprint: str  # which handlers/ module registers it
    summary: str
    handler: Handler
    body: Schema | None = None  # request body schema; None: the route takes no body
    flags: tuple[str, ...] = ()
    flag_defaults: Mapping[str, bool] = field(default_factory=dict)  # absent flags are False unless given here
    path_params: Mapping[str, Schema] = field(default_factory=dict)
    responses: Mapping[int, tuple[str, Schema]] = field(default_factory=dict)
    description: str = ""
    content_type: str = "application/json"  # of the 200 answer

    @property
    def path(self) -> str:
        return f"/api/{self.route}"


def parse_call(route: Route, request: EdgeRequest) -> Call:
    """Check ``request`` against ``route`` (raises a table exception naming what is wrong)."""
    flags = parse_flags(request.query, route.flags, route.flag_defaults)
    path: dict[str, str] = {}
    for name, spec in route.path_params.items():
        value = request.route_params.get(name, "")
        errors = problems(value, spec, name)
        if errors:
            raise NotFound(f"nothing at {route.path.replace('{' + name + '}', value[:80])}: {'; '.join(errors)}")
        path[name] = value
    if route.body is None:
        if request.body.strip():
            raise InvalidRequest(f"{route.method} {route.path} takes no body; send none")
        return Call(None, flags, path)
    check_size(len(request.body), MAX_BODY_BYTES)
    if not request.body.strip():
        raise InvalidRequest(f"the body is empty; send a JSON object: {route.description or '{...}'}")
    body = parse_json(request.body)
    errors = problems(body, route.body)
    if errors:
        raise InvalidRequest("; ".join(errors) + "; nothing was done")
    return Call(body, flags, path)


def dispatch(route: Route, request: EdgeRequest, services: Services) -> HttpAnswer:
    """The one path from a request to its answer: checks, handler, exception table."""
    try:
        return route.handler(services, parse_call(route, request))
    except Exception as err:  # the table decides; an exception not in it is a 500, logged with its traceback
        return answer_for(err)


# ------------------------------------------------------------------------------------------------ handlers
def _reconcile(services: Services, call: Call) -> HttpAnswer:
    from poolkeeper.service import reconcile_request

    return reconcile_request(services.reconciler(), call.body, dry_run=call.flags["dryRun"])


def _check(services: Services, call: Call) -> HttpAnswer:
    from poolkeeper.checks import DEFAULT_FAIL_ON, check_scopes

    try:
        body = check_scopes(services.reconciler(), call.body.get("guardrails"),
                            str(call.body.get("failOn", DEFAULT_FAIL_ON)))
    except ValueError as err:  # an id the catalog does not have, or one switched off
        raise InvalidRequest(str(err)) from err
    return HttpAnswer(200, body)


def _workflow(kind: str) -> Handler:
    def handle(services: Services, call: Call) -> HttpAnswer:
        from poolkeeper.workflows import http as wf_http

        # the configuration's dryRun means "plan only, everywhere": workflows included
        dry_run = call.flags["dryRun"] or services.reconciler().config.dry_run
        return wf_http.submit(services.workflows(), kind, call.body, dry_run=dry_run)

    return handle


def _operation(services: Services, call: Call) -> HttpAnswer:
    from poolkeeper.workflows import http as wf_http

    return wf_http.show(services.workflows(), call.path["id"])


def _health(services: Services, call: Call) -> HttpAnswer:
    return HttpAnswer(200, {"status": "ok"})


def _openapi(services: Services, call: Call) -> HttpAnswer:
    from poolkeeper.edge.openapi import document

    return HttpAnswer(200, document())


def _sweep(services: Services, call: Call) -> HttpAnswer:
    from poolkeeper.service import sweep_request

    return sweep_request(services.reconciler(), dry_run=call.flags["dryRun"], workflows=services.workflows())


def _maintenance(action: str) -> Handler:
    def handle(services: Services, call: Call) -> HttpAnswer:
        from poolkeeper.drain import Maintenance

        m = Maintenance(services.reconciler())
        run = m.drain if action == "drain" else m.restore
        return HttpAnswer(200, run(str(call.body["vmId"]), dry_run=call.flags["dryRun"]))

    return handle


def _latest_report(html: bool) -> Handler:
    def handle(services: Services, call: Call) -> HttpAnswer:
        from poolkeeper.report import latest

        report = latest()
        if report is None:
            raise NotFound("no run report yet in this process: run POST /api/sweep (or wait for the timer)")
        if html:
            from poolkeeper.report_render import render_html

            return HttpAnswer(200, render_html(report), content_type="text/html; charset=utf-8")
        return HttpAnswer(200, report.to_dict())

    return handle


_DRY_RUN = ("dryRun",)
_MAINTENANCE_ANSWERS = {200: ("done (or dry run: what would be done)", s.MAINTENANCE),
                        403: ("outside scopes", s.ERROR), 404: ("no such virtual machine", s.ERROR),
                        409: ("refused: under the pool's minimum in rotation, nothing to drain, or Azure refused",
                              s.ERROR)}
_WORKFLOW_ANSWERS = {200: ("finished (or dry run: the plan, and whether Azure would refuse it)", s.OPERATION),
                     202: ("still running: poll statusUrl", s.RUNNING), 403: ("outside scopes", s.ERROR),
                     409: ("refused: Azure would refuse it, or did", s.ERROR)}

ROUTES: tuple[Route, ...] = (
    Route("reconcile", "POST", "reconcile", "function", "http", "Reconcile now (or plan, with dryRun)",
          _reconcile, body=s.RECONCILE, flags=_DRY_RUN,
          description='{} for everything, {"resourceId": "<id>"} or {"binding": "<name>"}',
          responses={200: ("the plan and what was applied, per subscription", s.OUTCOMES),
                     403: ("the resource is outside poolkeeper's scopes", s.ERROR),
                     409: ("Azure refused a change", s.ERROR),
                     503: ("the world kept moving: too many re-plans; retry", s.ERROR)}),
    Route("check", "POST", "check", "function", "http", "Check the guardrails (read-only)", _check,
          body=s.CHECK, description='{} for every enabled guardrail, or {"guardrails": ["PK005"], "failOn": "medium"}',
          responses={200: ("the findings; failed says whether one reached failOn", s.FINDINGS),
                     400: ("a bad body or an unknown guardrail id", s.ERROR)}),
    Route("sweep", "POST", "sweep", "function", "http",
          "Compliance sweep: every guardrail, safe repairs, bindings, within limits (dry run unless dryRun=false)",
          _sweep, flags=_DRY_RUN, flag_defaults={"dryRun": True},
          responses={200: ("the run report (poolkeeper/report.schema.json)", s.REPORT),
                     503: ("the world kept moving: too many re-plans; retry", s.ERROR)}),
    Route("drain", "POST", "drain", "function", "http", "Take a VM out of rotation for maintenance",
          _maintenance("drain"), body=s.VM_REQUEST, flags=_DRY_RUN, description='{"vmId": "<vm id>"}',
          responses=_MAINTENANCE_ANSWERS),
    Route("restore", "POST", "restore", "function", "http", "Put a drained VM back exactly as it was",
          _maintenance("restore"), body=s.VM_REQUEST, flags=_DRY_RUN, description='{"vmId": "<vm id>"}',
          responses=_MAINTENANCE_ANSWERS),
    Route("report_latest", "GET", "report/latest", "function", "http", "The latest run report (JSON)",
          _latest_report(False), responses={200: ("the run report", s.REPORT),
                                            404: ("no run yet in this process", s.ERROR)}),
    Route("report_latest_html", "GET", "report/latest.html", "function", "http",
          "The latest run report as a self-contained HTML page", _latest_report(True),
          content_type="text/html", responses={200: ("the page", {"type": "string"}),
                                               404: ("no run yet in this process", s.ERROR)}),
    Route("health", "GET", "health", "anonymous", "http", "Liveness", _health,
          responses={200: ("alive", s.HEALTH)}),
    Route("openapi", "GET", "openapi.json", "anonymous", "http", "This OpenAPI document", _openapi,
          responses={200: ("the OpenAPI 3.1 document", {"type": "object"})}),
    Route("natpool_remove", "POST", "natpools/remove", "function", "workflows", "Remove a NAT pool (scale sets first)",
          _workflow("remove-natpool"), body=s.REMOVE_NATPOOL, flags=_DRY_RUN,
          description='{"loadBalancer": "<id>", "natPool": "<name>"}', responses=_WORKFLOW_ANSWERS),
    Route("natpool_migrate", "POST", "natpools/migrate", "function", "workflows",
          "Migrate a NAT pool to an inbound NAT rule V2", _workflow("migrate-natpool"), body=s.MIGRATE_NATPOOL,
          flags=_DRY_RUN, description='{"loadBalancer": "<id>", "natPool": "<name>"}',
          responses=_WORKFLOW_ANSWERS),
    Route("rule_change_probed_port", "POST", "rules/change-probed-port", "function", "workflows",
          "Change the backend port a load-balancing rule probes, safely", _workflow("change-probed-port"),
          body=s.CHANGE_PROBED_PORT, flags=_DRY_RUN,
          description='{"loadBalancer": "<id>", "rule": "<name>", "newBackendPort": <port>}',
          responses=_WORKFLOW_ANSWERS),
    Route("operation_status", "GET", "operations/{id}", "function", "workflows", "An operation's record",
          _operation, path_params={"id": s.OPERATION_ID},
          responses={200: ("the operation record", s.OPERATION), 404: ("no such operation", s.ERROR)}),
)


def routes_of(blueprint: str) -> tuple[Route, ...]:
    return tuple(r for r in ROUTES if r.blueprint == blueprint)
