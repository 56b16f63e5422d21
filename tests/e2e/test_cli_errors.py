"""Each common failure ends in one line that says what to do, and a non-zero exit (issue 14).

The CLI runs as an operator runs it: a separate process, configured by its environment only.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from poolkeeper_local.localrun import tutorial_config
from tests.conftest import SimHandle

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A local port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items()
            if not k.startswith(("AZURE_", "IDENTITY_", "POOLKEEPER_", "REQUESTS_CA", "SSL_CERT"))}
    return subprocess.run([sys.executable, "-m", "poolkeeper", *args], env={**base, "PYTHONPATH": str(ROOT), **env},
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("poolkeeper: ")
    return lines[0]


def sim_env(sim: SimHandle, **overrides: str) -> dict[str, str]:
    env = {**sim.info.env(), "AZURE_CLIENT_ID": "operator",
           "POOLKEEPER_CONFIG": json.dumps(tutorial_config(sim.info))}
    env.update(overrides)
    return env


def test_arm_not_running(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    env = sim_env(sim, POOLKEEPER_ARM_ENDPOINT=f"https://127.0.0.1:{closed_port()}")
    env.pop("IDENTITY_ENDPOINT")
    env.pop("IDENTITY_HEADER")
    result = run(env, "plan")
    assert result.returncode == 1
    line = one_line(result)
    assert "cannot reach ARM" in line and "armsim serve" in line


def test_token_endpoint_up_but_arm_down(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    result = run(sim_env(sim, POOLKEEPER_ARM_ENDPOINT=f"https://127.0.0.1:{closed_port()}"), "plan")
    assert result.returncode == 1
    assert "cannot reach ARM" in one_line(result)


def test_identity_endpoint_down(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    result = run(sim_env(sim, IDENTITY_ENDPOINT=f"http://127.0.0.1:{closed_port()}/msi/token"), "plan")
    assert result.returncode == 1
    assert "managed-identity endpoint" in one_line(result)


def test_wrong_ca_bundle(armsim_factory: Callable[..., SimHandle], tmp_path: Path) -> None:
    import certifi  # the public CA bundle: valid PEM, but it does not hold armsim's CA

    sim = armsim_factory(scenario="tutorial")
    result = run(sim_env(sim, REQUESTS_CA_BUNDLE=certifi.where(), SSL_CERT_FILE=certifi.where()), "plan")
    assert result.returncode == 1
    line = one_line(result)
    assert "not trusted" in line and "REQUESTS_CA_BUNDLE" in line
    missing = str(tmp_path / "gone.pem")
    result = run(sim_env(sim, REQUESTS_CA_BUNDLE=missing, SSL_CERT_FILE=missing), "plan")
    assert result.returncode == 1
    assert "does not exist" in one_line(result)


def test_missing_identity_variables_mention_armsim(armsim_factory: Callable[..., SimHandle], tmp_path: Path) -> None:
    sim = armsim_factory(scenario="tutorial")
    env = sim_env(sim, HOME=str(tmp_path), AZURE_CONFIG_DIR=str(tmp_path / "az"), PATH="/usr/bin:/bin")
    for name in ("IDENTITY_ENDPOINT", "IDENTITY_HEADER", "AZURE_CLIENT_ID"):
        env.pop(name)
    result = run(env, "plan", timeout=180)
    assert result.returncode == 1
    line = one_line(result)
    assert "no Azure credential" in line and "armsim" in line and "az login" in line


def test_bad_log_level() -> None:
    result = run({}, "--log-level", "loud", "plan")
    assert result.returncode == 2
    assert "invalid choice: 'LOUD'" in result.stderr and "Traceback" not in result.stderr
    result = run({"POOLKEEPER_LOG_LEVEL": "loud", "POOLKEEPER_CONFIG": "{}"}, "plan")
    assert result.returncode == 2
    assert "log level 'LOUD' is not one of DEBUG, INFO" in one_line(result)


def test_port_already_in_use(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run(sim_env(sim), "serve", "--port", str(port), "--no-timers")
    assert result.returncode == 1
    line = one_line(result)
    assert f"port {port}" in line and "already in use" in line and "--port" in line


def test_debug_shows_the_traceback(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        result = run(sim_env(sim), "--debug", "serve", "--port", str(busy.getsockname()[1]), "--no-timers")
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "already in use" in result.stderr


def test_demo_refuses_a_non_positive_time_scale() -> None:
    result = run({}, "demo", "--time-scale", "-1")
    assert result.returncode == 2
    assert "must be > 0" in result.stderr


@pytest.mark.parametrize("args", [["--version"]])
def test_version(args: list[str]) -> None:
    result = run({}, *args)
    assert result.returncode == 0 and result.stdout.startswith("poolkeeper 0.")
