"""The fuzz target: ``poolkeeper serve`` (in-process, as the e2e tests run it) WITH a function key, on armsim's
tutorial estate, configured ``dryRun: true`` so that no generated request can apply a change — and the suite still
asserts 0 ARM writes from armsim's request log, 0 5xx, and 0 tracebacks or ERROR records in poolkeeper's log.

``POOLKEEPER_FUZZ_EXAMPLES`` scales the run (default 1: the CI-sized run; 10 for a run ten times larger).
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from poolkeeper_local.localrun import LocalRun, tutorial_config

KEY = "fuzz-key-not-a-secret"
RG = "myTutorial8"
SCALE = max(1, int(os.environ.get("POOLKEEPER_FUZZ_EXAMPLES", "1")))


def examples(ci_sized: int) -> int:
    return ci_sized * SCALE


class Records(logging.Handler):
    """Every poolkeeper log record of the run (the log must hold no ERROR and no traceback)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock2 = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock2:
            self.records.append(record)

    def failures(self) -> list[str]:
        with self._lock2:
            bad = [r for r in self.records if r.levelno >= logging.ERROR or r.exc_info]
        return [f"{r.levelname} {r.name}: {r.getMessage()} {getattr(r, 'trace', '')}" for r in bad]


@dataclass
class Target:
    run: LocalRun
    log: Records
    sent: dict[str, int] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return str(self.run.host.base_url)

    @property
    def subscription(self) -> str:
        return str(self.run.info.subscription_id)

    def rg_id(self, rg: str = RG) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{rg}"

    def count(self, suite: str) -> None:
        self.sent[suite] = self.sent.get(suite, 0) + 1

    def arm_writes(self) -> list[dict[str, Any]]:
        return [e for e in self.run.control("GET", "requests") if e.get("kind") != "read"]

    def arm_requests(self) -> int:
        return len(self.run.control("GET", "requests"))

    def send(self, method: str, path: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
             framing: str = "length") -> tuple[int, bytes]:
        """One raw request (no client-side normalisation of path, headers or framing)."""
        conn = http.client.HTTPConnection(self.run.host.host, self.run.host.port, timeout=120)
        try:
            conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
            hdrs = dict(headers or {})
            data = body or b""
            if framing == "chunked":
                hdrs["Transfer-Encoding"] = "chunked"
            elif framing == "length":
                hdrs.setdefault("Content-Length", str(len(data)))
            for k, v in hdrs.items():
                conn.putheader(k, v)
            conn.endheaders()
            try:
                if framing == "chunked":
                    for i in range(0, len(data), 1000):
                        part = data[i:i + 1000]
                        conn.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
                    conn.send(b"0\r\n\r\n")
                elif framing == "length":
                    conn.send(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the host may answer (413, 400) and close before reading a body
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


@pytest.fixture(scope="package")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    from handlers import runtime
    from handlers import workflows as wf_handlers

    saved = os.environ.get("POOLKEEPER_OPERATIONS_DIR")
    os.environ["POOLKEEPER_OPERATIONS_DIR"] = str(tmp_path_factory.mktemp("fuzz-operations"))
    records = Records()
    root = logging.getLogger("poolkeeper")
    root.addHandler(records)
    run = LocalRun(scenario="tutorial", time_scale=0.01, throttle=False, function_key=KEY, subscribe=False)
    run.__enter__()
    try:
        # plan only, everywhere: a generated valid request must not be able to change anything
        os.environ["POOLKEEPER_CONFIG"] = json.dumps({**tutorial_config(run.info, RG), "dryRun": True})
        runtime.reset()
        wf_handlers.reset()
        run.control("POST", "reset")
        yield Target(run, records)
    finally:
        run.__exit__(None, None, None)
        wf_handlers.reset()
        root.removeHandler(records)
        if saved is None:
            os.environ.pop("POOLKEEPER_OPERATIONS_DIR", None)
        else:
            os.environ["POOLKEEPER_OPERATIONS_DIR"] = saved


def assert_clean(target: Target) -> None:
    """The invariants every fuzz test ends with."""
    assert target.arm_writes() == [], "a fuzzed request made an ARM write"
    assert target.log.failures() == [], "ERROR or traceback in the log:\n" + "\n".join(target.log.failures()[:5])


def check_answer(status: int, body: bytes, what: str) -> None:
    """Every answer: no 5xx, no traceback, JSON errors, no big echo."""
    assert status < 500, f"{status} for {what}: {body[:500]!r}"
    assert b"Traceback" not in body, what
    if status >= 400 and body:
        assert "error" in json.loads(body), what
        assert len(body) < 8192, f"{len(body)}-byte error answer for {what}"
