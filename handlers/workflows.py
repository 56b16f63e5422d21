"""NAT-pool workflows over HTTP (function-key auth) and the timer that resumes unfinished operations."""

from __future__ import annotations

import azure.functions as func

from handlers import runtime
from handlers.routes import register
from poolkeeper.edge.routes import routes_of

bp = func.Blueprint()
register(bp, routes_of("workflows"))


def reset() -> None:
    """Forget the process's parts (the workflows service is built with the reconciler: ``handlers.runtime``)."""
    runtime.reset()


@bp.timer_trigger(schedule="%POOLKEEPER_RESUME_SCHEDULE%", arg_name="timer", run_on_startup=False)
def resume_operations(timer: func.TimerRequest) -> None:
    """Advance every operation whose intent is recorded on a load balancer in scope (crash, timeout, redeploy)."""
    from poolkeeper.workflows import http as wf_http  # at first use: indexing does not load the workflows

    wf = runtime.workflows()
    wf.resume_pending(runtime.reconciler().config.scopes, budget_seconds=wf_http.run_seconds() or 240.0)
