"""The HTTPS front of armsim: ARM routes, the managed-identity endpoint, cloud metadata and the control endpoint."""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from armsim.errors import ArmError

if TYPE_CHECKING:
    from armsim.simulator import Runtime

ControlHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
    if body is None:
        return web.Response(status=status, headers=headers)
    return web.Response(status=status, body=json.dumps(body).encode(), content_type="application/json", headers=headers)


def _is_loopback(request: web.Request) -> bool:
    try:
        return ipaddress.ip_address(request.remote or "").is_loopback
    except ValueError:
        return False


def build_app(rt: Runtime) -> web.Application:
    app = web.Application(client_max_size=32 * 1024 * 1024)
    engine = rt.engine

    async def arm(request: web.Request) -> web.StreamResponse:
        body = await request.read()
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = {k: v for k, v in request.query.items()}
        resp = engine.handle(request.method, request.path, query, headers, body, str(request.url))
        if resp.drop:
            if request.transport is not None:
                request.transport.abort()
            raise asyncio.CancelledError()
        if request.method == "HEAD":
            return web.Response(status=resp.status, headers=resp.headers)
        return _json(resp.status, resp.body, resp.headers)

    async def msi_token(request: web.Request) -> web.StreamResponse:
        if request.headers.get("X-IDENTITY-HEADER") != rt.identity.header:
            return _json(
                401,
                {
                    "error": "unauthorized",
                    "error_description": "X-IDENTITY-HEADER is missing or wrong; "
                    "use the identity_header armsim printed.",
                },
            )
        selector = (
            request.query.get("client_id")
            or request.query.get("object_id")
            or request.query.get("principal_id")
            or request.query.get("mi_res_id")
        )
        try:
            return _json(200, rt.identity.issue(request.query.get("resource", ""), selector))
        except ArmError as err:
            return _json(err.status, {"error": "invalid_request", "error_description": err.message})

    async def metadata(request: web.Request) -> web.StreamResponse:
        # As Azure's: api-version 2019-05-01 (and none) lists every cloud; 2020-06-01 and later answer with this
        # cloud's object alone, which is what `az cloud register` (api-version 2022-09-01) parses.
        clouds = rt.cloud_metadata()
        if request.query.get("api-version", "") >= "2020-06-01":
            return _json(200, clouds[0])
        return _json(200, clouds)

    async def control(request: web.Request) -> web.StreamResponse:
        if not _is_loopback(request):
            return _json(403, {"error": "the control endpoint answers loopback clients only"})
        name = request.match_info["name"].strip("/")
        handler = rt.control_routes.get((request.method, name))
        if handler is None:
            known = sorted(f"{m} /_sim/{n}" for m, n in rt.control_routes)
            return _json(404, {"error": f"no control route {request.method} /_sim/{name}", "known": known})
        try:
            return await handler(request)
        except (ValueError, KeyError, TypeError, json.JSONDecodeError) as err:
            return _json(400, {"error": f"bad control request: {err}"})

    app.router.add_route("GET", "/msi/token", msi_token)
    # `az cloud register --endpoint-resource-manager https://host:port/` appends '/metadata/endpoints' to the endpoint
    # as given, so the request path starts with '//'; Azure's front door merges the slashes, and so does armsim.
    app.router.add_route("GET", "/{slashes:/*}metadata/endpoints", metadata)
    app.router.add_route("*", "/_sim/{name:.*}", control)
    app.router.add_route("*", "/{tail:.*}", arm)
    return app


def control_json(status: int, body: Any) -> web.Response:
    return _json(status, body)
