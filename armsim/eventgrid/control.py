"""Control routes under ``/_sim/eventgrid/``: chaos knobs, delivery statistics, flush and manual validation.

Tests and benchmarks need to know when delivery has settled and what happened to each event, which Azure only
shows through metrics; these routes make that observable and waitable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from armsim.app import control_json
from armsim.eventgrid.chaos import Chaos

if TYPE_CHECKING:
    from armsim.eventgrid.delivery import Dispatcher
    from armsim.simulator import Runtime


def register(rt: Runtime, dispatcher: Dispatcher) -> None:
    @rt.control("POST", "eventgrid/chaos")
    async def set_chaos(request: web.Request) -> web.StreamResponse:
        raw = await request.json() if request.can_read_body else {}
        if not isinstance(raw, dict):
            raise ValueError("the chaos body must be a JSON object")
        dispatcher.set_chaos(Chaos.parse(raw))
        return control_json(200, dispatcher.chaos.describe())

    @rt.control("GET", "eventgrid/chaos")
    async def get_chaos(request: web.Request) -> web.StreamResponse:
        return control_json(200, dispatcher.chaos.describe())

    @rt.control("GET", "eventgrid/stats")
    async def stats(request: web.Request) -> web.StreamResponse:
        return control_json(200, dispatcher.stats(int(request.query.get("limit", "100"))))

    @rt.control("POST", "eventgrid/reset")
    async def reset(request: web.Request) -> web.StreamResponse:
        dispatcher.reset_stats()
        return control_json(200, {"reset": True})

    @rt.control("POST", "eventgrid/flush")
    async def flush(request: web.Request) -> web.StreamResponse:
        raw = await request.json() if request.can_read_body else {}
        raw = raw if isinstance(raw, dict) else {}
        empty = await dispatcher.flush(float(raw.get("timeout", 30.0)), bool(raw.get("include_operations", True)))
        out = dispatcher.stats(0)
        out["empty"] = empty
        return control_json(200 if empty else 504, out)

    @rt.control("GET", "eventgrid/validate")
    async def validate(request: web.Request) -> web.StreamResponse:
        if dispatcher.manual_validate(request.query.get("id", "")):
            return control_json(200, {"validated": True})
        return control_json(404, {"error": "unknown or expired validation code"})
