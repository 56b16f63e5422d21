"""The operator CLI as an operator runs it: a separate process pointed at armsim by environment only."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from poolkeeper_local.localrun import tutorial_config
from tests.conftest import SimHandle

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    sim: SimHandle, *args: str, config: dict | None = None, timeout: float = 120
) -> subprocess.CompletedProcess:
    env = {**os.environ, **sim.info.env(), "AZURE_CLIENT_ID": "poolkeeper-cli-test", "PYTHONPATH": str(ROOT)}
    if config is not None:
        env["POOLKEEPER_CONFIG"] = json.dumps(config)
    return subprocess.run([sys.executable, "-m", "poolkeeper", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def test_plan_then_apply_then_nothing_to_do(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    config = tutorial_config(sim.info)
    planned = run_cli(sim, "plan", config=config)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("CreateNatRule") == 3
    assert "plan (dry run)" in planned.stdout
    assert not [e for e in sim.requests_log() if e["kind"] != "read"], "plan must not write"
    applied = run_cli(sim, "apply", "--json", config=config)
    assert applied.returncode == 0, applied.stderr
    outcome = json.loads(applied.stdout)[0]
    assert outcome["result"]["writes"] == 4  # one LB write with all three rules, three NIC writes
    again = run_cli(sim, "plan", config=config)
    assert "nothing to do" in again.stdout


def test_invalid_configuration_names_the_field(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory()
    config = tutorial_config(sim.info)
    config["bindings"][0]["natRule"]["frontendPortRange"] = [50100, 50001]
    result = run_cli(sim, "plan", config=config)
    assert result.returncode == 2
    assert "bindings[0].natRule.frontendPortRange" in result.stderr
    assert not [e for e in sim.requests_log() if e["kind"] != "read"]


def test_serve_refuses_a_public_address_without_a_key(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory()
    result = run_cli(sim, "serve", "--host", "0.0.0.0", "--port", "0", config=tutorial_config(sim.info))
    assert result.returncode == 2
    assert "function key" in result.stderr


@pytest.mark.parametrize("args", [["--help"], ["plan", "--help"], ["serve", "--help"]])
def test_help_works(armsim_factory: Callable[..., SimHandle], args: list[str]) -> None:
    sim = armsim_factory()
    assert run_cli(sim, *args).returncode == 0
