"""``python -m poolkeeper serve`` as a real subprocess: started, SIGKILLed, restarted on the same port.

The same port keeps the Event Grid subscription's webhook URL valid across restarts, as a Functions app's URL is;
deliveries that fail while the process is dead are retried by Event Grid. Every run's log goes to one file, which
the "no traceback" invariant reads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PoolkeeperProcess:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen[str] | None = None
        self.ready: dict[str, Any] = {}
        self.starts = 0
        self.kills = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def webhook(self) -> str:
        return f"{self.base_url}/runtime/webhooks/eventgrid?functionName=on_resource_event"

    def start(self) -> None:
        assert self.proc is None or self.proc.poll() is not None, "already running"
        log = self.log_path.open("a")
        log.write(f"\n===== poolkeeper serve, start {self.starts + 1} =====\n")
        log.flush()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "poolkeeper", "--log-level", "INFO", "serve", "--port", str(self.port),
             "--no-timers"],
            cwd=ROOT, env=self.env, stdout=subprocess.PIPE, stderr=log, text=True,
        )
        log.close()
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"poolkeeper serve did not start; see {self.log_path}:\n{self.log_text()[-3000:]}")
        self.ready = json.loads(line)
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL: no handler runs, nothing is flushed, requests in flight are cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def serve_env(info: Any, config: dict[str, Any], client_id: str) -> dict[str, str]:
    env = {**os.environ, **info.env(), "AZURE_CLIENT_ID": client_id, "POOLKEEPER_CONFIG": json.dumps(config),
           "PYTHONPATH": str(ROOT)}
    env.pop("POOLKEEPER_FUNCTION_KEY", None)
    return env
