"""A webhook receiver for tests: answers Event Grid's handshakes and records every request it gets.

It runs a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 in a daemon thread, so tests (armsim's and poolkeeper's) can
stand in for the real event handler without an event loop of their own. ``respond`` lets a test script failures
(e.g. 503 twice, then 200) per request.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from armsim.waiting import wait_until


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def kind(self) -> str:
        """aeg-event-type: Notification, SubscriptionValidation (or OPTIONS for the CloudEvents handshake)."""
        return "OPTIONS" if self.method == "OPTIONS" else self.headers.get("aeg-event-type", "")

    def events(self) -> list[dict[str, Any]]:
        data = self.json
        return data if isinstance(data, list) else [data] if isinstance(data, dict) else []


# respond(request, index among notifications) -> (status, body) or None for the default answer
Responder = Callable[[Received, int], tuple[int, Any] | None]


class WebhookReceiver:
    """``with WebhookReceiver() as hook: ... hook.url ... hook.wait_for_events(1)``."""

    def __init__(self, *, respond: Responder | None = None, handshake: str = "echo", allow_origin: bool = True) -> None:
        """``handshake``: "echo" answers the validation code, "refuse" answers 400, "manual" answers 200 without the
        code (Azure then waits for a GET of the validationUrl)."""
        if handshake not in ("echo", "refuse", "manual"):
            raise ValueError("handshake must be 'echo', 'refuse' or 'manual'")
        self.requests: list[Received] = []
        self.respond = respond
        self.handshake = handshake
        self.allow_origin = allow_origin
        self._lock = threading.Lock()
        self._notifications = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_OPTIONS(self) -> None:
                receiver._record(self, b"")
                self.send_response(200 if receiver.allow_origin else 403)
                if receiver.allow_origin:
                    self.send_header("WebHook-Allowed-Origin", self.headers.get("WebHook-Request-Origin", "*"))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                status, answer = receiver._answer(receiver._record(self, body))
                payload = b"" if answer is None else json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="webhook", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/events"

    def _record(self, handler: BaseHTTPRequestHandler, body: bytes) -> Received:
        req = Received(handler.command, handler.path, {k.lower(): v for k, v in handler.headers.items()}, body)
        with self._lock:
            self.requests.append(req)
        return req

    def _answer(self, req: Received) -> tuple[int, Any]:
        if req.kind == "SubscriptionValidation":
            if self.handshake == "refuse":
                return 400, {"error": "validation refused"}
            if self.handshake == "manual":
                return 200, None
            return 200, {"validationResponse": req.events()[0]["data"]["validationCode"]}
        with self._lock:
            index = self._notifications
            self._notifications += 1
        custom = self.respond(req, index) if self.respond else None
        return custom if custom is not None else (200, None)

    # --- what arrived -----------------------------------------------------------------------------------------
    def notifications(self) -> list[Received]:
        with self._lock:
            return [r for r in self.requests if r.kind == "Notification"]

    def events(self) -> list[dict[str, Any]]:
        """Every event of every notification, in arrival order (retries and duplicates included)."""
        return [e for r in self.notifications() for e in r.events()]

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        return wait_until(predicate, timeout, interval=0.01)

    def wait_for_events(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        self.wait_for(lambda: len(self.events()) >= n, timeout)
        return self.events()

    # --- lifecycle --------------------------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
