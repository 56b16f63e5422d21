"""HTTP hooks for pipelines: reconcile on demand, the anonymous health probe and OpenAPI document.

The routes are entries of ``poolkeeper.edge.routes.ROUTES`` (blueprint ``http``); this module only registers them.
"""

from __future__ import annotations

import azure.functions as func

from handlers.routes import register
from poolkeeper.edge.routes import routes_of

bp = func.Blueprint()
register(bp, routes_of("http"))
