"""The HTTP surface of the workflows, independent of Azure Functions types (handlers/workflows.py translates).

A request is answered within a wait budget: the operation runs in a background thread and the request waits for it
up to ``POOLKEEPER_WORKFLOW_WAIT_SECONDS``. Work that finishes in time answers 200 with the operation record;
longer work answers 202 with the operation id and ``statusUrl`` (``GET /api/operations/{id}``). Refusals that the
preconditions predict answer 409 before anything is written, bad input 400, a load balancer out of scope 403.

In Azure a request may run up to 230 s, and a Functions instance may be frozen or recycled once it has answered;
so there the wait defaults to 200 s and the run itself stops at a step boundary after ``POOLKEEPER_WORKFLOW_RUN_-
SECONDS`` (default 200 s). Whatever is left is finished by the ``resume_operations`` timer, which finds the intent
recorded on the load balancer. Locally (``python -m poolkeeper serve``) the thread simply keeps running.
"""

from __future__ import annotations

import threading
from typing import Any

from poolkeeper.edge.answer import HttpAnswer, error
from poolkeeper.edge.errors import answer_for, status_of
from poolkeeper.logs import get_logger
from poolkeeper.settings import Settings
from poolkeeper.workflows.operations import Workflows
from poolkeeper.workflows.runner import Hooks
from poolkeeper.workflows.store import is_operation_id

log = get_logger("workflows.http")

def in_azure(environ: dict[str, str] | None = None) -> bool:
    return Settings.from_env(environ).in_azure


def wait_seconds() -> float:
    return Settings.from_env().workflow_wait


def run_seconds() -> float | None:
    return Settings.from_env().workflow_run


def status_url(operation_id: str) -> str:
    return f"/api/operations/{operation_id}"


def submit(workflows: Workflows, kind: str, body: Any, *, dry_run: bool, wait: float | None = None,
           budget: float | None = None) -> HttpAnswer:
    """``POST /api/natpools/remove`` (and the others): validate, then run within the wait budget."""
    try:
        intent = workflows.parse(kind, body)
        if dry_run:
            record = workflows.submit(intent, dry_run=True)
            return HttpAnswer(200, {**record, "wouldBeRefused": bool(record["problems"])})
    except Exception as err:  # the edge's table: 400 bad request, 403 out of scope, ...
        return answer_for(err)

    outcome: dict[str, Any] = {}
    started = threading.Event()
    finished = threading.Event()

    def on_event(event: dict[str, Any]) -> None:
        if event.get("event") == "started":
            started.set()

    def work() -> None:
        try:
            outcome["record"] = workflows.submit(intent, budget_seconds=budget if budget is not None else run_seconds(),
                                                 hooks=Hooks(on_event=on_event))
        except Exception as err:  # reported to the waiting request, or logged if it already answered
            outcome["error"] = err
            if status_of(err) is None:  # a failure: the traceback helps
                log.exception("operation failed", extra={"operation": intent.id})
            else:  # a refusal is an answer, not a failure (issue 9): the reason, no traceback
                log.warning("operation refused: %s", err, extra={"operation": intent.id, "reason": str(err)})
        finally:
            finished.set()
            started.set()

    threading.Thread(target=work, name=f"operation-{intent.id}", daemon=True).start()
    started.wait()
    finished.wait(wait if wait is not None else wait_seconds())
    if not finished.is_set():
        return HttpAnswer(202, {"operationId": intent.id, "status": "running", "statusUrl": status_url(intent.id),
                                "message": "the operation continues in the background; poll statusUrl"})
    failure = outcome.get("error")
    if failure is not None:
        return answer_for(failure, operationId=intent.id)
    record = outcome["record"]
    status = {"succeeded": 200, "failed": 409}.get(record["status"], 202)
    return HttpAnswer(status, {**record, "operationId": intent.id, "statusUrl": status_url(intent.id)})


def show(workflows: Workflows, operation_id: str) -> HttpAnswer:
    """``GET /api/operations/{id}``: only ids in poolkeeper's format reach the store (404 for anything else)."""
    if not is_operation_id(operation_id):
        return error(404, f"no operation {operation_id[:40]!r}: operation ids are 12 lowercase hexadecimal "
                          "characters, as the request that started it answered")
    try:
        return HttpAnswer(200, workflows.show(operation_id))
    except Exception as err:
        return answer_for(err) if status_of(err) != 404 else error(404, f"{err} ({workflows.store.describe()})")
