"""A real crash: the CLI process is SIGKILLed mid-migration, and a fresh process resumes it from what Azure holds.

The in-process crash hook (test_resume.py) covers every step boundary; this test covers what a hook cannot — a process
that dies while a long-running ARM operation is still in flight, with nothing flushed, and a new process that has only
the load balancer's intent tag and the operation folder to go on.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import SimHandle
from tests.workflows.helpers import LB_PUT, UPGRADE, VMSS_PUT, count

ROOT = Path(__file__).resolve().parents[2]
RG = "MyResourceGroup"


def cli_env(sim: SimHandle, ops_dir: Path) -> dict[str, str]:
    scope = f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}"
    return {**os.environ, **sim.info.env(), "AZURE_CLIENT_ID": "poolkeeper-kill-test", "PYTHONPATH": str(ROOT),
            "POOLKEEPER_OPERATIONS_DIR": str(ops_dir),
            "POOLKEEPER_CONFIG": json.dumps({"scopes": [scope], "bindings": []})}


def test_sigkill_during_the_model_update_then_resume_in_a_new_process(
    armsim_factory: Callable[..., SimHandle], tmp_path: Path
) -> None:
    sim = armsim_factory(scenario="vmss-natpool", time_scale=0.05)  # a scale-set PUT takes 0.5 s: time to kill it
    lb_id = sim.rid(RG, "Microsoft.Network/loadBalancers/MyLoadBalancer")
    env = cli_env(sim, tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "poolkeeper", "natpool", "migrate", "--load-balancer", lb_id,
                             "--nat-pool", "MyNatPool", "--json"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # wait until the scale-set model PUT has been accepted, then kill -9
        if count(sim.requests_log(), VMSS_PUT) == 1:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert count(sim.requests_log(), VMSS_PUT) == 1, "the kill point was not reached"
    clients = sim.clients()
    tags = clients.network.load_balancers.get(RG, "MyLoadBalancer").as_dict().get("tags") or {}
    intent = json.loads(tags["poolkeeper.operation"])  # the intent survived the crash, in Azure
    resumed = subprocess.run([sys.executable, "-m", "poolkeeper", "operation", "resume", intent["id"],
                              "--load-balancer", lb_id, "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    lb = clients.network.load_balancers.get(RG, "MyLoadBalancer").as_dict()
    props = lb["properties"]
    assert not props.get("inboundNatPools")
    rules = {r["name"]: r["properties"] for r in props.get("inboundNatRules") or []}
    v2 = [r for r in rules.values() if r.get("backendAddressPool")]
    assert len(v2) == 1 and v2[0]["frontendPortRangeStart"] == 50000 and v2[0]["backendPort"] == 22
    assert "poolkeeper.operation" not in (lb.get("tags") or {}), "a finished operation clears its intent"
    log = sim.requests_log()
    assert count(log, VMSS_PUT) == 1, "the model update completed before the crash and must not be repeated"
    assert count(log, UPGRADE) == 1
    assert count(log, LB_PUT) == 2  # the intent record, then the one write that swaps the NAT pool for the V2 rule
    clients.close()
