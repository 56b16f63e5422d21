"""poolkeeper's logs reach the standard logging hierarchy (where the Functions worker, pytest's caplog and
OpenTelemetry listen), each record carrying the run's correlation id; the metrics derived from them count real ARM
calls. A real reconcile against armsim, through the real SDK."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from poolkeeper.config import load_config
from poolkeeper.logs import configure
from poolkeeper.reconciler import Reconciler
from poolkeeper.telemetry import install_metrics
from poolkeeper_local.localrun import tutorial_config
from tests.conftest import SimHandle


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave the poolkeeper logger as found (no console handler, no level) for the tests that follow."""
    yield
    root = logging.getLogger("poolkeeper")
    for handler in [h for h in root.handlers if getattr(h, "_poolkeeper", False)]:
        root.removeHandler(handler)
    root.setLevel(logging.NOTSET)


def reconcile(sim: SimHandle) -> list:
    reconciler = Reconciler(load_config(json.dumps(tutorial_config(sim.info))))
    try:
        return reconciler.reconcile_all(dry_run=False)
    finally:
        reconciler.close()


@pytest.mark.parametrize("console", [False, True], ids=["functions-worker", "cli"])
def test_logs_propagate_with_the_correlation_id(
    armsim_factory: Callable[..., SimHandle], caplog: pytest.LogCaptureFixture, console: bool
) -> None:
    sim = armsim_factory(scenario="tutorial")
    configure("INFO", console=console)  # as handlers/runtime.py (Functions) or the CLI does
    caplog.set_level(logging.INFO)
    (outcome,) = reconcile(sim)
    ours = [r for r in caplog.records if r.name.startswith("poolkeeper.")]
    assert ours, "no poolkeeper record reached the root logger"
    calls = [r for r in ours if r.getMessage() == "arm call"]
    assert calls and {getattr(r, "correlation_id", None) for r in calls} == {outcome.correlation_id}
    done = [r for r in ours if r.getMessage() == "reconciled"]
    assert len(done) == 1 and done[0].correlation_id == outcome.correlation_id and done[0].writes == 4
    assert logging.getLogger("poolkeeper").propagate


def test_metrics_count_arm_calls_and_writes(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    configure("INFO")
    handler = install_metrics(provider.get_meter("test"))
    try:
        (outcome,) = reconcile(sim)
    finally:
        logging.getLogger("poolkeeper").removeHandler(handler)
    data = reader.get_metrics_data()
    assert data is not None
    points: dict[str, list] = {}
    for rm in data.resource_metrics:
        for sm in rm.scope_metrics:
            for metric in sm.metrics:
                points[metric.name] = list(metric.data.data_points)
    assert sum(p.value for p in points["poolkeeper.writes"]) == outcome.result.writes == 4
    ok_calls = sum(p.value for p in points["poolkeeper.arm.calls"] if p.attributes["status"] == "ok")
    assert ok_calls == sum(outcome.arm_calls.values())


def test_planner_findings_are_logged_with_the_correlation_id(
        armsim_factory: Callable[..., SimHandle], caplog: pytest.LogCaptureFixture) -> None:
    """What the planner refuses or only flags is in the answer (``plan.findings``) and in the log, one record each."""
    sim = armsim_factory(scenario="tutorial")
    config = tutorial_config(sim.info)
    config["bindings"].append({**config["bindings"][0], "name": "also-web"})  # matches the same VMs: reported
    configure("INFO")
    caplog.set_level(logging.INFO)
    reconciler = Reconciler(load_config(json.dumps(config)))
    try:
        (outcome,) = reconciler.reconcile_all(dry_run=True)
    finally:
        reconciler.close()
    found = {(f.guardrail, f.resource_id) for f in outcome.plan.findings}
    assert found and {rule for rule, _ in found} == {"SeveralBindingsMatch"}
    logged = [r for r in caplog.records if r.getMessage() == "planner finding"]
    assert {(r.guardrail, r.resource) for r in logged} == found
    assert {r.correlation_id for r in logged} == {outcome.correlation_id}
    assert all(r.levelno == logging.INFO and r.binding == "web" for r in logged)
