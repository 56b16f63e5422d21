"""NAT-pool workflows over HTTP (function-key auth) and the timer that resumes unfinished operations."""

from __future__ import annotations

import json
import threading

import azure.functions as func

from handlers.runtime import reconciler
from poolkeeper.workflows import Workflows
from poolkeeper.workflows import http as wf_http
from poolkeeper.workflows.store import default_store

bp = func.Blueprint()

_lock = threading.Lock()
_workflows: Workflows | None = None


def workflows() -> Workflows:
    """One Workflows service per process, sharing the reconciler's SDK clients and scopes."""
    global _workflows
    with _lock:
        if _workflows is None:
            rec = reconciler()
            _workflows = Workflows(rec.gateway, default_store(), scopes=rec.config.scopes)
        return _workflows


def reset() -> None:
    global _workflows
    with _lock:
        _workflows = None


def _answer(answer: wf_http.HttpAnswer) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(answer.body, indent=2, default=str), status_code=answer.status,
                             mimetype="application/json")


def _submit(req: func.HttpRequest, kind: str) -> func.HttpResponse:
    try:
        body = json.loads(req.get_body() or b"{}")
    except ValueError as err:
        return _answer(wf_http.HttpAnswer(400, {"error": f"the body is not valid JSON ({err}); send a JSON object"}))
    dry_run = str(req.params.get("dryRun", "false")).lower() in ("1", "true", "yes")
    return _answer(wf_http.submit(workflows(), kind, body, dry_run=dry_run))


@bp.route(route="natpools/remove", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def natpool_remove(req: func.HttpRequest) -> func.HttpResponse:
    return _submit(req, "remove-natpool")


@bp.route(route="natpools/migrate", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def natpool_migrate(req: func.HttpRequest) -> func.HttpResponse:
    return _submit(req, "migrate-natpool")


@bp.route(route="rules/change-probed-port", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def rule_change_probed_port(req: func.HttpRequest) -> func.HttpResponse:
    return _submit(req, "change-probed-port")


@bp.route(route="operations/{id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def operation_status(req: func.HttpRequest) -> func.HttpResponse:
    return _answer(wf_http.show(workflows(), req.route_params.get("id", "")))


@bp.timer_trigger(schedule="%POOLKEEPER_RESUME_SCHEDULE%", arg_name="timer", run_on_startup=False)
def resume_operations(timer: func.TimerRequest) -> None:
    """Advance every operation whose intent is recorded on a load balancer in scope (crash, timeout, redeploy)."""
    wf = workflows()
    wf.resume_pending(reconciler().config.scopes, budget_seconds=wf_http.run_seconds() or 240.0)
