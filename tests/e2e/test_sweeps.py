"""Issue 12 acceptance on armsim through the real SDKs: the sweep finds, repairs within limits and reports; the
breaker stops a failing run; a hand-made removal stays removed; drain/restore round-trip exactly."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from azure.identity import ManagedIdentityCredential

from armsim.scenarios.fleet import RG as FLEET
from armsim.scenarios.fleet import build_fleet, fleet_config
from poolkeeper.config import parse_config
from poolkeeper.reconciler import Reconciler
from poolkeeper.report import RunReport, schema
from poolkeeper.sweep import run_sweep
from tests.conftest import SimHandle
from tests.e2e.test_guardrails import EXPECTED, violations_config

pytestmark = pytest.mark.slow


@contextmanager
def reconciler_for(config: dict[str, Any]) -> Iterator[Reconciler]:
    rec = Reconciler(parse_config(config), ManagedIdentityCredential())
    try:
        yield rec
    finally:
        rec.close()


def sweep(config: dict[str, Any], *, apply: bool) -> RunReport:
    with reconciler_for(config) as rec:
        report = run_sweep(rec, apply=apply)
    jsonschema.validate(report.to_dict(), schema())
    return report


def short_ids(report: RunReport) -> dict[str, set[str]]:
    return {g: {f["resourceId"].rsplit("/", 1)[-1] for f in fs} for g, fs in report.findings_by_guardrail().items()}


def fleet(armsim_factory: Callable[..., SimHandle], *, lbs: int, vms: int, in_pool: bool = False) -> SimHandle:
    sim = armsim_factory()
    sim.sim.call(lambda: build_fleet(sim.engine, lbs=lbs, vms_per_lb=vms, in_pool=in_pool))
    return sim


def in_pool(sim: SimHandle, nic: str, rg: str = FLEET) -> bool:
    body = sim.arm("GET", f"/subscriptions/{sim.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Network/"
                          f"networkInterfaces/{nic}", api_version="2024-05-01").json()
    return bool(body["properties"]["ipConfigurations"][0]["properties"].get("loadBalancerBackendAddressPools"))


def test_sweep_reports_every_finding_enforce_repairs_and_the_second_sweep_changes_nothing(
        armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="violations")
    config = violations_config(sim, PK012={"mode": "enforce"}, PK013={"mode": "enforce"})
    sim.reset_log()
    dry = sweep(config, apply=False)
    assert short_ids(dry) == EXPECTED
    log = sim.requests_log()
    assert log and all(e["method"] == "GET" for e in log), "a dry-run sweep only reads"
    for e in log:  # collection paths only: never a GET per resource
        tail = e["path"].split("?")[0].split("/providers/", 1)[1].split("/")[1:]
        assert len(tail) % 2 == 1, f"per-resource GET {e['path']}"
    assert any("vmA6-nic" in c["description"] for c in dry.changes["planned"])
    # a pk- rule pointing at nothing: poolkeeper's own orphan, the one PK012 orphan with a safe fix
    lb = sim.rid("pkViolations", "Microsoft.Network/loadBalancers/lbWeb")
    rule = {"properties": {"protocol": "Tcp", "frontendPort": 60001, "backendPort": 22,
                           "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/fe"}}}
    assert sim.arm("PUT", f"{lb}/inboundNatRules/pk-gone-22", rule).status_code in (200, 201)
    applied = sweep(config, apply=True)
    assert short_ids(applied)["PK012"] == {"orphan-nat", "pk-gone-22"}
    done = [c["description"] for c in applied.changes["applied"]]
    assert any("pk-gone-22" in d for d in done) and any("vmA6-nic" in d for d in done)
    assert not applied.changes["refused"]
    again = sweep(config, apply=True)
    assert "PK013" not in short_ids(again)
    assert short_ids(again)["PK012"] == {"orphan-nat"}, "a rule poolkeeper does not own is reported, never deleted"
    assert again.summary["changesPlanned"] == 0 and again.summary["writes"] == 0


def test_limits_cut_fifty_drifted_vms_to_ten_per_sweep(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = fleet(armsim_factory, lbs=1, vms=50)
    config = fleet_config(sim.subscription_id, sim.info.arm_endpoint, lbs=1, limits={"maxChangesPerRun": 10})
    first = sweep(config, apply=True)
    assert first.summary["changesApplied"] == 10
    assert first.summary["unitsDeferred"] == 40
    assert {d["limit"] for d in first.changes["deferred"]} == {"maxChangesPerRun"}
    assert first.limits["tripped"] == [{"limit": "maxChangesPerRun", "deferredUnits": 40}]
    wired = {j for j in range(50) if in_pool(sim, f"vm0x{j}-nic")}
    assert len(wired) == 10
    second = sweep(config, apply=True)
    assert second.summary["changesApplied"] == 10 and second.summary["unitsDeferred"] == 30
    assert len({j for j in range(50) if in_pool(sim, f"vm0x{j}-nic")} - wired) == 10


def test_percent_limit_counts_the_resources_of_a_kind(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = fleet(armsim_factory, lbs=1, vms=20)
    config = fleet_config(sim.subscription_id, sim.info.arm_endpoint, lbs=1, limits={"maxChangesPercent": 25})
    report = sweep(config, apply=True)
    assert report.summary["changesApplied"] == 5  # 25 % of 20 NICs
    assert report.summary["unitsDeferred"] == 15
    assert report.changes["deferred"][0]["limit"] == "maxChangesPercent"


def test_breaker_stops_applying_when_writes_keep_failing(armsim_factory: Callable[..., SimHandle],
                                                         caplog: pytest.LogCaptureFixture) -> None:
    sim = fleet(armsim_factory, lbs=1, vms=20)
    config = fleet_config(sim.subscription_id, sim.info.arm_endpoint, lbs=1,
                          limits={"breakerErrorRate": 0.5, "breakerMinWrites": 4})
    # every NIC write is refused (400: not retried), so the breaker trips after 4 writes
    sim.control("POST", "faults", {"seed": 1, "rules": [{"kind": "write", "rate": 1.0, "status": 400}]})
    sim.reset_log()
    with caplog.at_level(logging.ERROR, logger="poolkeeper"):
        report = sweep(config, apply=True)
    assert report.summary["breakerTripped"] is True
    tripped = [t for t in report.limits["tripped"] if t["limit"] == "breaker"]
    assert tripped and tripped[0]["writes"] == 4 and tripped[0]["failures"] == 4 and len(tripped[0]["skipped"]) == 16
    writes = [e for e in sim.requests_log() if e["method"] == "PUT"]
    assert len(writes) == 4, "no write is attempted once the breaker tripped"
    assert any("circuit breaker tripped" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)


def test_limits_apply_to_event_driven_runs_too(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = fleet(armsim_factory, lbs=1, vms=6)
    config = fleet_config(sim.subscription_id, sim.info.arm_endpoint, lbs=1, limits={"maxChangesPerRun": 2})
    vms = {sim.rid(FLEET, f"Microsoft.Compute/virtualMachines/vm0x{j}") for j in range(6)}
    with reconciler_for(config) as rec:  # what on_resource_event calls for a burst of VM events in one group
        outcome = rec.reconcile_coalesced(sim.subscription_id, FLEET, vms)
    assert outcome is not None and outcome.result is not None
    assert len(outcome.result.applied) == 2 and len(outcome.deferred) == 4
    assert sum(in_pool(sim, f"vm0x{j}-nic") for j in range(6)) == 2


def test_cli_sweep_prints_tables_json_and_html_and_drain_refusal_exits_2(
        armsim_factory: Callable[..., SimHandle], tmp_path: Path) -> None:
    from tests.e2e.test_cli import run_cli

    sim = armsim_factory(scenario="violations")
    config = violations_config(sim)
    page = tmp_path / "report.html"
    table = run_cli(sim, "sweep", "--html", str(page), config=config)
    assert table.returncode == 0, table.stderr
    assert "Findings by guardrail" in table.stdout and "PK013" in table.stdout
    assert max(len(line) for line in table.stdout.splitlines()) <= 100
    assert 'data-lb="lbWeb"' in page.read_text(encoding="utf-8")
    as_json = run_cli(sim, "sweep", "--json", config=config)
    report = json.loads(as_json.stdout)
    jsonschema.validate(report, schema())
    assert report["dryRun"] is True and set(report["findingsByGuardrail"]) == set(EXPECTED)
    assert sim.requests_log() and not [e for e in sim.requests_log() if e["method"] != "GET"]
    solo = sim.rid("pkViolations", "Microsoft.Compute/virtualMachines/vmS1")  # one of the 6 members of pool web
    refused = run_cli(sim, "drain", solo, config={**config, "limits": {"minInRotation": 6}})
    assert refused.returncode == 2 and "fewer than limits.minInRotation 6" in refused.stderr
