"""``python -m armsim serve`` as a process: the one JSON line, SIGTERM, and state surviving a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from azure.identity import ManagedIdentityCredential

from poolkeeper.clients import ArmClients, make_clients

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"arm_endpoint", "ca_bundle", "subscription_id", "tenant_id", "identity_endpoint", "identity_header",
        "control_endpoint"}


def serve(state_dir: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "armsim", "serve", "--time-scale", "0.01", "--state-dir", str(state_dir), *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line, proc.stderr.read() if proc.stderr else "no output"
    return proc, json.loads(line)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def clients_for(info: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> ArmClients:
    monkeypatch.setenv("IDENTITY_ENDPOINT", info["identity_endpoint"])
    monkeypatch.setenv("IDENTITY_HEADER", info["identity_header"])
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", info["ca_bundle"])
    return make_clients(info["subscription_id"], info["arm_endpoint"], ManagedIdentityCredential())


def test_serve_prints_one_json_line_and_state_survives_a_restart(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    proc, info = serve(tmp_path, "--scenario", "tutorial")
    try:
        assert set(info) == KEYS
        assert info["arm_endpoint"].startswith("https://127.0.0.1:")
        clients = clients_for(info, monkeypatch)
        assert clients.network.load_balancers.get("myTutorial8", "myLoadBalancer").name == "myLoadBalancer"
        clients.network.public_ip_addresses.begin_create_or_update(
            "myTutorial8", "survivor", {"location": "westus", "sku": {"name": "Standard"},
                                        "properties": {"publicIPAllocationMethod": "Static"}}).result()
        clients.close()
    finally:
        assert stop(proc) == 0
    ca_before = Path(info["ca_bundle"]).read_bytes()
    proc, info2 = serve(tmp_path)  # no scenario: the saved state is restored instead
    try:
        assert Path(info2["ca_bundle"]).read_bytes() == ca_before
        clients = clients_for(info2, monkeypatch)
        assert clients.network.public_ip_addresses.get("myTutorial8", "survivor").name == "survivor"
        assert clients.network.load_balancers.get("myTutorial8", "myLoadBalancer").name == "myLoadBalancer"
        clients.close()
    finally:
        assert stop(proc) == 0


def test_unknown_scenario_is_a_clear_error(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "armsim", "serve", "--scenario", "nope", "--state-dir",
                             str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 2
    assert "unknown scenario 'nope'" in result.stderr
