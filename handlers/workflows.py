"""NAT-pool workflows over HTTP (function-key auth) and the timer that resumes unfinished operations."""

from __future__ import annotations

import threading

import azure.functions as func

from handlers.routes import register
from handlers.runtime import reconciler
from poolkeeper.edge.routes import routes_of
from poolkeeper.reconciler import Reconciler
from poolkeeper.workflows import Workflows
from poolkeeper.workflows import http as wf_http
from poolkeeper.workflows.store import default_store

bp = func.Blueprint()
register(bp, routes_of("workflows"))

_lock = threading.Lock()
_workflows: tuple[Reconciler, Workflows] | None = None


def workflows() -> Workflows:
    """One Workflows service per reconciler (so per process), sharing its SDK clients and scopes; rebuilt when the
    reconciler is (a reloaded configuration must not leave workflows on closed clients)."""
    global _workflows
    rec = reconciler()
    with _lock:
        if _workflows is None or _workflows[0] is not rec:
            _workflows = (rec, Workflows(rec.gateway, default_store(), scopes=rec.config.scopes))
        return _workflows[1]


def reset() -> None:
    global _workflows
    with _lock:
        _workflows = None


@bp.timer_trigger(schedule="%POOLKEEPER_RESUME_SCHEDULE%", arg_name="timer", run_on_startup=False)
def resume_operations(timer: func.TimerRequest) -> None:
    """Advance every operation whose intent is recorded on a load balancer in scope (crash, timeout, redeploy)."""
    wf = workflows()
    wf.resume_pending(reconciler().config.scopes, budget_seconds=wf_http.run_seconds() or 240.0)
