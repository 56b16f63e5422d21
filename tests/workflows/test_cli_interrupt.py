"""Ctrl-C during a workflow names the operation and the command that resumes it; `operation list` and
`operation show` tell a dead process's operation ("stale") from a running one. All through the real CLI."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SimHandle
from tests.workflows.helpers import VMSS_PUT, count

ROOT = Path(__file__).resolve().parents[2]


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "poolkeeper", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=180)


def test_ctrl_c_names_the_resume_command_and_the_operation_turns_stale(
    armsim_factory: Callable[..., SimHandle], tmp_path: Path
) -> None:
    sim = armsim_factory(scenario="vmss-natpool", time_scale=0.05)
    scope = f"/subscriptions/{sim.subscription_id}/resourceGroups/MyResourceGroup"
    env = {**os.environ, **sim.info.env(), "AZURE_CLIENT_ID": "operator", "PYTHONPATH": str(ROOT),
           "POOLKEEPER_OPERATIONS_DIR": str(tmp_path),
           "POOLKEEPER_CONFIG": json.dumps({"scopes": [scope], "bindings": []})}
    # -g/--lb-name instead of the id: the subscription comes from AZURE_SUBSCRIPTION_ID (armsim's env sets it)
    proc = subprocess.Popen([sys.executable, "-m", "poolkeeper", "natpool", "migrate", "-g", "MyResourceGroup",
                             "--lb-name", "MyLoadBalancer", "--nat-pool", "MyNatPool"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60  # a wait for a point in the workflow, not a timed assertion
    while time.monotonic() < deadline and count(sim.requests_log(), VMSS_PUT) < 1:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in stderr, stderr
    match = re.search(r"resume with: python -m poolkeeper operation resume (\S+)$", lines[0])
    assert match, lines[0]
    operation = match.group(1)

    listed = cli(env, "operation", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [r["id"] for r in rows] == [operation] and rows[0]["status"] == "running"  # just now: not stale yet

    stale = cli(env, "operation", "show", operation, "--stale-after", "0", "--json")
    assert stale.returncode == 3, stale.stderr
    record = json.loads(stale.stdout)
    assert record["status"] == "stale" and record["recordedStatus"] == "running"
    table = cli(env, "operation", "list", "--stale-after", "0")
    assert "stale" in table.stdout and operation in table.stdout

    resumed = cli(env, "operation", "resume", operation, "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["status"] == "succeeded"
    lb = sim.clients().network.load_balancers.get("MyResourceGroup", "MyLoadBalancer").as_dict()
    assert not lb["properties"].get("inboundNatPools")
