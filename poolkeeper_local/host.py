"""``python -m poolkeeper serve``: a small local stand-in for the Azure Functions host.

Core Tools (``func start``) cannot be installed everywhere, so this host indexes ``function_app.app`` exactly as the
real host does (every function, its trigger and binding names) and serves the same URLs:

- HTTP functions at ``/api/<route>`` (route templates such as ``operations/{id}`` included);
- Event Grid functions at ``/runtime/webhooks/eventgrid?functionName=<name>``, with the subscription validation
  handshake (Event Grid schema) and the OPTIONS abuse-protection handshake (CloudEvents);
- timers on their NCRONTAB schedules (unless ``--no-timers``).

Request bodies are read by the edge (``poolkeeper.edge.transport``): Content-Length or chunked, capped, anything
unreadable a 400/413 with the connection closed. Like Core Tools it checks no function keys unless started with
``--function-key``; then every non-anonymous route (and the Event Grid webhook) needs it as ``x-functions-key`` or
``?code=``. It refuses to listen on a non-loopback address without a key. Errors are JSON, never a stack trace.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import json
import re
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import azure.functions as func
from azure.functions.timer import TimerRequest

from poolkeeper.edge.limits import MAX_BODY_BYTES, MAX_WEBHOOK_BYTES, BodyError, parse_json
from poolkeeper.edge.transport import read_body
from poolkeeper.logs import get_logger
from poolkeeper.settings import resolve_schedule

log = get_logger("host")


@dataclass
class HttpFunction:
    name: str
    pattern: re.Pattern[str]
    methods: frozenset[str]
    anonymous: bool
    arg: str
    call: Callable[..., Any]


@dataclass
class EventGridFunction:
    name: str
    arg: str
    call: Callable[..., Any]


@dataclass
class TimerFunction:
    name: str
    schedule: str
    run_on_startup: bool
    arg: str
    call: Callable[..., Any]


def _route_regex(route: str) -> re.Pattern[str]:
    """``operations/{id}`` → ``^operations/(?P<id>[^/]+)$`` (constraints like ``{id:int}`` are accepted)."""
    out = ""
    for part in re.split(r"(\{[^}]+\})", route.strip("/")):
        if part.startswith("{"):
            name = part[1:-1].split(":")[0].rstrip("?")
            out += f"(?P<{name}>[^/]+)"
        else:
            out += re.escape(part)
    return re.compile(f"^{out}$", re.IGNORECASE)


def _value(x: Any) -> str:
    return str(getattr(x, "value", x))


_INDEXED: dict[int, list[Any]] = {}


def indexed_functions(app: func.FunctionApp) -> list[Any]:
    """``app.get_functions()``, once per app: azure-functions validates names on every call and refuses the second
    call in a process as duplicate names, so the index is computed once and shared."""
    key = id(app)
    if key not in _INDEXED:
        _INDEXED[key] = app.get_functions()
    return _INDEXED[key]


class FunctionIndex:
    """The app's functions as the host indexes them."""

    def __init__(self, app: func.FunctionApp) -> None:
        self.http: list[HttpFunction] = []
        self.eventgrid: dict[str, EventGridFunction] = {}
        self.timers: list[TimerFunction] = []
        for fn in indexed_functions(app):
            trigger = fn.get_trigger()
            spec = trigger.get_dict_repr()
            name = fn.get_function_name()
            call = fn.get_user_function()
            kind = spec["type"]
            if kind == "httpTrigger":
                route = spec.get("route") or name
                methods = frozenset(_value(m).upper() for m in (spec.get("methods") or ["GET", "POST"]))
                anonymous = _value(spec.get("authLevel", "function")).lower() == "anonymous"
                self.http.append(HttpFunction(name, _route_regex(route), methods, anonymous, spec["name"], call))
            elif kind == "eventGridTrigger":
                self.eventgrid[name.lower()] = EventGridFunction(name, spec["name"], call)
            elif kind == "timerTrigger":
                self.timers.append(
                    TimerFunction(name, spec["schedule"], bool(spec.get("runOnStartup")), spec["name"], call)
                )


def _event_from_json(raw: dict[str, Any]) -> func.EventGridEvent:
    """An EventGridEvent binding value from Event Grid schema or CloudEvents JSON (as the extension binds it)."""
    cloud = "specversion" in raw or "specVersion" in raw
    when = raw.get("time" if cloud else "eventTime")
    try:
        event_time = dt.datetime.fromisoformat(str(when).replace("Z", "+00:00")) if when else None
    except ValueError:
        event_time = None
    return func.EventGridEvent(
        id=str(raw.get("id", "")),
        data=_data if isinstance(_data := raw.get("data"), dict) else {},
        topic=str(raw.get("source" if cloud else "topic", "")),
        subject=str(raw.get("subject", "")),
        event_type=str(raw.get("type" if cloud else "eventType", "")),
        event_time=event_time,
        data_version=str(raw.get("dataversion" if cloud else "dataVersion", "")),
    )


class LocalHost:
    def __init__(self, app: func.FunctionApp, *, host: str = "127.0.0.1", port: int = 7071,
                 function_key: str | None = None, timers: bool = True) -> None:
        if not _is_loopback(host) and not function_key:
            raise ValueError(
                f"refusing to listen on {host} without a function key: anyone on the network could call the "
                "functions. Pass --function-key KEY, or bind 127.0.0.1"
            )
        self.index = FunctionIndex(app)
        self.function_key = function_key
        self.timers_enabled = timers
        self._stop = threading.Event()
        self.server = _Server((host, port), self._handler_class())
        # stop() waits for requests in progress (no half-applied reconcile), but not for idle keep-alive
        # connections, which would hold it forever: in-flight requests are counted instead of joining threads
        self.server.daemon_threads = True
        self.server.block_on_close = False
        self._in_flight = 0
        self._idle = threading.Condition()
        self.port = self.server.server_address[1]
        self.host = host
        self._threads: list[threading.Thread] = []

    @property
    def base_url(self) -> str:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        return f"http://{host}:{self.port}"

    def eventgrid_url(self, function_name: str) -> str:
        url = f"{self.base_url}/runtime/webhooks/eventgrid?functionName={function_name}"
        return url + (f"&code={self.function_key}" if self.function_key else "")

    # ------------------------------------------------------------------------------------------------ lifecycle
    def start(self) -> LocalHost:
        t = threading.Thread(target=self.server.serve_forever, name="poolkeeper-host", daemon=True)
        t.start()
        self._threads.append(t)
        if self.timers_enabled:
            for timer in self.index.timers:
                tt = threading.Thread(target=self._run_timer, args=(timer,), name=f"timer-{timer.name}", daemon=True)
                tt.start()
                self._threads.append(tt)
        log.info("host started", extra={"url": self.base_url, "functions": self.function_names()})
        return self

    def stop(self, timeout: float = 120.0) -> None:
        self._stop.set()
        self.server.shutdown()
        with self._idle:
            self._idle.wait_for(lambda: self._in_flight == 0, timeout=timeout)
        self.server.server_close()

    def _begin(self) -> None:
        with self._idle:
            self._in_flight += 1

    def _end(self) -> None:
        with self._idle:
            self._in_flight -= 1
            self._idle.notify_all()

    def function_names(self) -> list[str]:
        return sorted([f.name for f in self.index.http] + [f.name for f in self.index.eventgrid.values()]
                      + [t.name for t in self.index.timers])

    def _run_timer(self, timer: TimerFunction) -> None:
        from croniter import croniter  # type: ignore[import-untyped]

        first = True
        itr = croniter(resolve_schedule(timer.schedule), dt.datetime.now(), second_at_beginning=True)
        while not self._stop.is_set():
            if not (first and timer.run_on_startup):
                wait = (itr.get_next(dt.datetime) - dt.datetime.now()).total_seconds()
                if self._stop.wait(max(0.0, wait)):
                    return
            first = False
            try:
                timer.call(**{timer.arg: TimerRequest(past_due=False)})
            except Exception:
                log.exception("timer failed", extra={"function": timer.name})

    # ------------------------------------------------------------------------------------------------ HTTP
    def _authorised(self, headers: Any, query: dict[str, list[str]]) -> bool:
        if not self.function_key:
            return True
        given = headers.get("x-functions-key") or (query.get("code") or [""])[0]
        # bytes: compare_digest refuses non-ASCII str (a hostile key must be a 401, not a 500)
        return hmac.compare_digest(str(given).encode("utf-8", "surrogateescape"), self.function_key.encode("utf-8"))

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "poolkeeper-localhost"

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("http", extra={"line": fmt % args})

            def _send(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
                      raw: bytes | None = None, content_type: str = "application/json") -> None:
                data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
                self.send_response(status)
                headers = dict(headers or {})
                if self.close_connection:
                    headers.setdefault("Connection", "close")
                for k, v in headers.items():
                    self.send_header(k, v)
                if data:
                    self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if data and self.command != "HEAD":
                    self.wfile.write(data)

            def _dispatch(self) -> None:
                host._begin()
                try:
                    host._serve(self)
                except BodyError as err:  # the body could not be read: answer, and drop the connection
                    self.close_connection = True
                    self._send(err.status, {"error": str(err)})
                except Exception as err:
                    error_id = str(uuid.uuid4())
                    log.error("unhandled error", extra={"error_id": error_id, "error": repr(err),
                                                        "trace": traceback.format_exc()})
                    self._send(500, {"error": f"internal error ({type(err).__name__}); see the host log for "
                                              f"error id {error_id}"})
                finally:
                    host._end()

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = do_HEAD = _dispatch

            def __getattr__(self, name: str) -> Any:
                """Any other method (TRACE, CONNECT, made-up ones) is routed too: a JSON 404/405, not an HTML 501."""
                if name.startswith("do_"):
                    return self._dispatch
                raise AttributeError(name)

        return Handler

    def _serve(self, h: Any) -> None:
        """Route, method and key are checked before the body is read (an early answer closes the connection)."""
        url = urlsplit(h.path)
        query = parse_qs(url.query, keep_blank_values=True)
        path = url.path
        h.close_after_body = h.close_connection  # what the client asked for (HTTP/1.0, Connection: close)
        h.close_connection = True  # until the body has been read
        if path.lower() == "/runtime/webhooks/eventgrid":
            return self._eventgrid(h, query)
        if not path.lower().startswith("/api/"):
            return h._send(404, {"error": f"no function at {path[:200]}; HTTP functions live under /api/"})
        route = path[len("/api/"):].strip("/")
        for fn in self.index.http:
            m = fn.pattern.match(route)
            if not m:
                continue
            if h.command not in fn.methods:
                return h._send(405, {"error": f"{h.command} is not allowed on /api/{route[:200]}; use "
                                              f"{sorted(fn.methods)}"},
                               headers={"Allow": ", ".join(sorted(fn.methods))})
            if not fn.anonymous and not self._authorised(h.headers, query):
                return h._send(401, {"error": "missing or wrong function key: send x-functions-key or ?code="})
            body = self._body(h, MAX_BODY_BYTES)
            req = func.HttpRequest(
                h.command, f"{self.base_url}{h.path}", headers=dict(h.headers.items()),
                params={k: v[0] for k, v in query.items()},
                route_params={k: unquote(v, errors="replace") for k, v in m.groupdict().items()}, body=body,
            )
            resp = fn.call(**{fn.arg: req})
            headers = {k: v for k, v in resp.headers.items() if k.lower() not in ("content-length", "content-type")}
            return h._send(resp.status_code, headers=headers, raw=resp.get_body(),
                           content_type=resp.mimetype or "application/json")
        return h._send(404, {"error": f"no function at /api/{route[:200]}"})

    @staticmethod
    def _body(h: Any, limit: int) -> bytes:
        """The request body (BodyError 400/413 if it cannot be read); the connection may then be kept alive."""
        body = read_body(h.headers, h.rfile, limit)
        h.close_connection = h.close_after_body
        return body

    def _eventgrid(self, h: Any, query: dict[str, list[str]]) -> None:
        name = (query.get("functionName") or [""])[0]
        fn = self.index.eventgrid.get(name.lower())
        if fn is None:
            known = sorted(f.name for f in self.index.eventgrid.values())
            return h._send(404, {"error": f"no Event Grid function named {name[:80]!r}; known: {known}"})
        if not self._authorised(h.headers, query):
            return h._send(401, {"error": "missing or wrong key: append ?code=<key> to the webhook URL"})
        if h.command == "OPTIONS":  # CloudEvents abuse protection (webhook validation for CloudEvents schema)
            origin = h.headers.get("WebHook-Request-Origin", "*")
            allowed = {"WebHook-Allowed-Origin": origin, "WebHook-Allowed-Rate": "*", "Allow": "POST"}
            return h._send(200, headers=allowed)
        if h.command != "POST":
            return h._send(405, {"error": "Event Grid delivers with POST"}, headers={"Allow": "POST, OPTIONS"})
        body = self._body(h, MAX_WEBHOOK_BYTES)
        payload = parse_json(body, limit=MAX_WEBHOOK_BYTES)  # BodyError: 400/413 (depth, size, not JSON)
        events = payload if isinstance(payload, list) else [payload]
        kind = (h.headers.get("aeg-event-type") or "").lower()
        if kind == "subscriptionvalidation":
            first = events[0] if events and isinstance(events[0], dict) else {}
            data = first.get("data")
            code = data.get("validationCode") if isinstance(data, dict) else None
            if not isinstance(code, str) or not code or len(code) > 256:
                return h._send(400, {"error": "a SubscriptionValidation event needs data.validationCode (a string)"})
            return h._send(200, {"validationResponse": code})
        for raw in events:
            if not isinstance(raw, dict):
                log.warning("malformed event dropped", extra={"error": "an event is not a JSON object"})
                continue
            fn.call(**{fn.arg: _event_from_json(raw)})
        return h._send(200, None)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """socketserver prints errors to stderr; here they go to the log (a dropped client is not an error)."""
        import sys

        err = sys.exc_info()[1]
        if isinstance(err, ConnectionError | TimeoutError):
            log.info("client connection dropped", extra={"client": str(client_address), "error": repr(err)})
        else:
            log.error("connection failed", exc_info=True, extra={"client": str(client_address)})


def _is_loopback(host: str) -> bool:
    if host in ("localhost",):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
