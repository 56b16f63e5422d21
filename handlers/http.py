"""HTTP hooks for pipelines: reconcile on demand, and an anonymous health probe."""

from __future__ import annotations

import json

import azure.functions as func

from handlers.runtime import reconciler
from poolkeeper.checks import handle_check_request
from poolkeeper.service import handle_reconcile_request

bp = func.Blueprint()


def json_response(status: int, body: object) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, indent=2), status_code=status, mimetype="application/json")


def dry_run_flag(req: func.HttpRequest) -> bool:
    return str(req.params.get("dryRun", "false")).lower() in ("1", "true", "yes")


def json_body(req: func.HttpRequest) -> tuple[object, func.HttpResponse | None]:
    raw = req.get_body() or b"{}"
    try:
        return json.loads(raw), None
    except ValueError as err:
        return None, json_response(400, {"error": f"the body is not valid JSON ({err}); send a JSON object"})


@bp.route(route="reconcile", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def reconcile(req: func.HttpRequest) -> func.HttpResponse:
    body, error = json_body(req)
    if error is not None:
        return error
    result = handle_reconcile_request(reconciler(), body, dry_run=dry_run_flag(req))
    return json_response(result.status, result.body)


@bp.route(route="check", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def check(req: func.HttpRequest) -> func.HttpResponse:
    body, error = json_body(req)
    if error is not None:
        return error
    status, answer = handle_check_request(reconciler(), body)
    return json_response(status, answer)


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(200, {"status": "ok"})
