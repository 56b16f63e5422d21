"""The control endpoint's core routes (``/_sim/...``, loopback only, no token): the request log, counters, reset,
fault injection, the store, the configuration and identities.

Plugins add their own routes (e.g. ``armsim.eventgrid.control``) through ``Runtime.control``; the endpoint itself
(loopback check, JSON answers) is served by ``armsim.app``.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

from aiohttp import web

from armsim.app import control_json

if TYPE_CHECKING:
    from armsim.simulator import Runtime


def register_core(rt: Runtime) -> None:
    """Register the core control routes on ``rt``."""
    engine = rt.engine

    @rt.control("GET", "requests")
    async def requests(request: web.Request) -> web.StreamResponse:
        since = int(request.query.get("since", "0"))
        return control_json(200, engine.request_log[since:])

    @rt.control("GET", "counters")
    async def counters(request: web.Request) -> web.StreamResponse:
        return control_json(200, dict(engine.counters))

    @rt.control("POST", "reset")
    async def reset(request: web.Request) -> web.StreamResponse:
        engine.reset_log()
        engine.throttle.reset()
        return control_json(200, {"reset": True})

    @rt.control("POST", "faults")
    async def faults(request: web.Request) -> web.StreamResponse:
        engine.faults.configure(await request.json() if request.can_read_body else {})
        return control_json(200, {"rules": engine.faults.describe()})

    @rt.control("GET", "faults")
    async def get_faults(request: web.Request) -> web.StreamResponse:
        return control_json(200, {"rules": engine.faults.describe()})

    @rt.control("GET", "state")
    async def state(request: web.Request) -> web.StreamResponse:
        engine.tick()
        return control_json(200, engine.store.dump())

    @rt.control("POST", "config")
    async def config(request: web.Request) -> web.StreamResponse:
        rt.config.update(await request.json())
        return control_json(200, asdict(rt.config))

    @rt.control("GET", "config")
    async def get_config(request: web.Request) -> web.StreamResponse:
        return control_json(200, asdict(rt.config))

    @rt.control("GET", "identity")
    async def identity(request: web.Request) -> web.StreamResponse:
        client_id = request.query.get("client_id")
        return control_json(200, rt.identity.principal_for(client_id))
