"""The one HTTP edge: every HTTP route poolkeeper serves, and everything between raw bytes and a handler.

- :mod:`.answer` — ``HttpAnswer``, the one answer type, and the error shape;
- :mod:`.limits` — body size caps, the JSON reader (depth guard, duplicate keys) and echo truncation;
- :mod:`.query` — strict query parameters (flags);
- :mod:`.schema` — the small JSON Schema subset the routes use, checked before any handler runs;
- :mod:`.schemas` — the routes' request and answer schemas, with their bounds;
- :mod:`.errors` — the ONE exception → status table;
- :mod:`.routes` — the route table (method, route, auth level, schemas, handler) and ``dispatch``;
- :mod:`.openapi` — the OpenAPI 3.1 document generated from the route table;
- :mod:`.transport` — reading a request body off a socket (Content-Length, chunked) for the local host.

The Azure Functions blueprints (``handlers/``), the local host and the OpenAPI document are all derived from
:data:`poolkeeper.edge.routes.ROUTES`; adding a route is one entry there.
"""
