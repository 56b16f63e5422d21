"""The surfaces: HTTP (through the local Functions host), the CLI in a subprocess, and the demo's act."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from poolkeeper.workflows import http as wf_http
from tests.workflows.conftest import Estate
from tests.workflows.helpers import labels

ROOT = Path(__file__).resolve().parents[2]


def test_http_dry_run_then_run_then_status(estate: Estate) -> None:
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"}
    dry = wf_http.submit(estate.workflows, "migrate-natpool", body, dry_run=True)
    assert dry.status == 200 and not dry.body["wouldBeRefused"]
    real = wf_http.submit(estate.workflows, "migrate-natpool", body, dry_run=False, wait=30)
    assert real.status == 200 and real.body["status"] == "succeeded"
    shown = wf_http.show(estate.workflows, real.body["operationId"])
    assert shown.status == 200 and shown.body["status"] == "succeeded"
    assert wf_http.show(estate.workflows, "nope").status == 404


def test_http_answers_202_when_the_work_outlives_the_wait(estate: Estate) -> None:
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", "batchSize": 1}
    answer = wf_http.submit(estate.workflows, "remove-natpool", body, dry_run=False, wait=0.0)
    assert answer.status == 202 and answer.body["statusUrl"] == f"/api/operations/{answer.body['operationId']}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = wf_http.show(estate.workflows, answer.body["operationId"]).body.get("status")
        if status == "succeeded":
            break
        time.sleep(0.1)
    assert status == "succeeded"


def test_http_bad_input_and_refusals(estate: Estate) -> None:
    bad = wf_http.submit(estate.workflows, "remove-natpool", {"loadBalancer": "lb", "natPol": "x"}, dry_run=False)
    assert bad.status == 400
    assert "unknown field 'natPol'" in bad.body["error"] and "missing required field 'natPool'" in bad.body["error"]
    refused = wf_http.submit(estate.workflows, "change-probed-port",
                             {"loadBalancer": estate.lb_id, "rule": "NoSuchRule", "newBackendPort": 81},
                             dry_run=False)
    assert refused.status == 409 and refused.body["problems"][0]["code"] == "ResourceNotFound"
    assert labels(estate.sim.requests_log()) == []


def test_functions_app_routes_and_timer(estate: Estate, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The blueprint is registered: POST /api/natpools/migrate?dryRun=true and GET /api/operations/{id} via the
    local host; the resume_operations timer is indexed."""
    sub = estate.sim.subscription_id
    rg = f"/subscriptions/{sub}/resourceGroups/MyResourceGroup"
    monkeypatch.setenv("POOLKEEPER_CONFIG", json.dumps({"scopes": [rg], "bindings": []}))
    monkeypatch.setenv("POOLKEEPER_OPERATIONS_DIR", str(tmp_path / "ops"))
    import function_app
    from handlers import runtime
    from handlers import workflows as wf_handlers
    from poolkeeper_local.host import LocalHost

    runtime.reset()
    wf_handlers.reset()
    host = LocalHost(function_app.app, port=0, timers=False).start()
    try:
        assert "resume_operations" in host.function_names()
        url = host.base_url + "/api/natpools/migrate"
        close = {"Connection": "close"}  # LocalHost.stop() joins request threads; leave no keep-alive behind
        body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"}
        dry = requests.post(url, params={"dryRun": "true"}, json=body, timeout=30, headers=close)
        assert dry.status_code == 200 and dry.json()["status"] == "dry-run"
        outside = dict(body, loadBalancer=estate.lb_id.replace("MyResourceGroup", "OtherGroup"))
        assert requests.post(url, json=outside, timeout=30, headers=close).status_code == 403
        run = requests.post(url, json=body, timeout=60, headers=close)
        assert run.status_code in (200, 202)
        op = run.json()["operationId"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = requests.get(f"{host.base_url}/api/operations/{op}", timeout=10, headers=close)
            if got.json().get("status") == "succeeded":
                break
            time.sleep(0.1)
        assert got.status_code == 200 and got.json()["status"] == "succeeded"
    finally:
        host.stop()
        wf_handlers.reset()
        runtime.reset()


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "poolkeeper", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_dry_run_run_show_and_bad_input(estate: Estate, tmp_path: Path) -> None:
    scope = f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/MyResourceGroup"
    env = {**os.environ, **estate.sim.info.env(), "POOLKEEPER_OPERATIONS_DIR": str(tmp_path / "ops"),
           "PYTHONPATH": str(ROOT), "POOLKEEPER_CONFIG": json.dumps({"scopes": [scope], "bindings": []})}
    common = ["--load-balancer", estate.lb_id, "--nat-pool", "MyNatPool"]
    dry = _cli(["natpool", "remove", *common, "--dry-run"], env)
    assert dry.returncode == 0, dry.stderr
    assert "planned" in dry.stdout and "delete-natpool" in dry.stdout
    bad = _cli(["natpool", "remove", "--load-balancer", "not-an-id", "--nat-pool", "MyNatPool"], env)
    assert bad.returncode == 2 and "loadBalancer" in bad.stderr
    run = _cli(["natpool", "remove", *common, "--batch-size", "2"], env)
    assert run.returncode == 0, run.stderr
    assert "instances updated 2/3" in run.stdout and "instances updated 3/3" in run.stdout
    op = next(line.split()[1] for line in run.stdout.splitlines() if line.startswith("operation "))
    shown = _cli(["operation", "show", op, "--json"], env)
    assert json.loads(shown.stdout)["status"] == "succeeded"
    probed = _cli(["rule", "change-probed-port", "--load-balancer", estate.lb_id, "--rule", "MyLoadBalancerRule",
                   "--new-backend-port", "8080", "--dry-run"], env)
    assert probed.returncode == 0 and "detach-probe:MyVMSS" in probed.stdout


def test_demo_act(estate: Estate) -> None:
    from poolkeeper_local.demo_act import run_natpool_act

    out = io.StringIO()
    summary: dict[str, Any] = run_natpool_act(estate.sim.info, out)
    assert summary["status"] == "succeeded", summary["error"]
    assert summary["steps"] == ["record-intent", "update-model:MyVMSS", "upgrade:MyVMSS:instances", "delete-natpool"]
    assert len(summary["portMappings"]) == 3
    text = out.getvalue()
    assert "✓" in text and "port 50000 → 50000" in text
    assert "as Azure reports them" in text and "predicted" not in text
    assert "query" not in summary["armWrites"], "the port mapping query is not a write"
