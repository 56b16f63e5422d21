"""Registers the edge's route table (``poolkeeper.edge.routes.ROUTES``) as Azure Functions HTTP functions.

Each function is a thin adapter: ``func.HttpRequest`` → ``EdgeRequest`` → ``dispatch`` → ``func.HttpResponse``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import azure.functions as func

from poolkeeper.edge.answer import HttpAnswer
from poolkeeper.edge.routes import EdgeRequest, Route, dispatch

if TYPE_CHECKING:
    from poolkeeper.reconciler import Reconciler
    from poolkeeper.workflows.operations import Workflows

AUTH = {"function": func.AuthLevel.FUNCTION, "anonymous": func.AuthLevel.ANONYMOUS}


class ProcessServices:
    """The process-wide reconciler and workflows service (``handlers.runtime``: built on first use by the
    composition root from the app settings)."""

    def reconciler(self) -> Reconciler:
        from handlers.runtime import reconciler

        return reconciler()

    def workflows(self) -> Workflows:
        from handlers.runtime import workflows

        return workflows()


SERVICES = ProcessServices()


def response(answer: HttpAnswer) -> func.HttpResponse:
    return func.HttpResponse(answer.json_bytes(), status_code=answer.status, headers=answer.headers or None,
                             mimetype=answer.content_type)


def _adapter(route: Route) -> Callable[[func.HttpRequest], func.HttpResponse]:
    def adapter(req: func.HttpRequest) -> func.HttpResponse:
        request = EdgeRequest.from_parts(req.method, req.url, req.params, req.route_params, req.get_body())
        return response(dispatch(route, request, SERVICES))

    adapter.__name__ = adapter.__qualname__ = route.name
    adapter.__doc__ = route.summary
    return adapter


def register(bp: func.Blueprint, routes: Iterable[Route]) -> None:
    """One Functions HTTP function per route: its name, method, route template and auth level."""
    for route in routes:
        bp.route(route=route.route, methods=[route.method], auth_level=AUTH[route.auth])(_adapter(route))
