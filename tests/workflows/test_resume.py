"""Killed after each step in turn, the next run resumes from Azure's state and repeats no completed step."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from poolkeeper.workflows import INTENT_TAG
from poolkeeper.workflows.runner import Hooks, SimulatedCrash
from tests.workflows.conftest import Estate
from tests.workflows.helpers import LB_PUT, UPGRADE, VMSS_PUT, labels

RG_SCOPE = "/subscriptions/{sub}/resourceGroups/MyResourceGroup"


def _crash_then_resume(estate: Estate, kind: str, body: dict[str, Any], crash_after: int, via: str) -> dict[str, Any]:
    intent = estate.workflows.parse(kind, body)
    estate.sim.reset_log()
    with pytest.raises(SimulatedCrash):
        estate.workflows.submit(intent, hooks=Hooks(crash_after_step=crash_after))
    stored = estate.workflows.show(intent.id)
    assert stored["status"] == "running", "the killed run left its record mid-way"
    done = [s["key"] for s in stored["steps"] if s["status"] == "done"]
    assert len(done) == crash_after
    if via == "timer":
        results = estate.workflows.resume_pending([RG_SCOPE.format(sub=estate.sim.subscription_id)])
        assert [r["operation"] for r in results] == [intent.id] and results[0]["status"] == "succeeded", results
    else:
        record = estate.workflows.resume(intent.id)
        assert record["status"] == "succeeded", record.get("error")
    final = estate.workflows.show(intent.id)
    assert final["status"] == "succeeded"
    return final


@pytest.mark.parametrize("crash_after", [1, 2, 3, 4])
def test_remove_natpool_resumes_after_a_kill_at_each_step(estate: Estate, crash_after: int) -> None:
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", "deleteFrontend": True}
    _crash_then_resume(estate, "remove-natpool", body, crash_after, "timer" if crash_after % 2 else "cli")
    # exactly the writes of an uninterrupted run: nothing that had completed was done again
    assert labels(estate.sim.requests_log()) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT, LB_PUT]
    lb = estate.lb()
    assert lb["properties"]["inboundNatPools"] == []
    assert [f["name"] for f in lb["properties"]["frontendIPConfigurations"]] == ["LoadBalancerFrontEnd"]
    assert INTENT_TAG not in (lb.get("tags") or {})


@pytest.mark.parametrize("crash_after", [1, 2, 3])
def test_migrate_resumes_after_a_kill_at_each_step(estate: Estate, crash_after: int) -> None:
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", "backendPool": "create"}
    final = _crash_then_resume(estate, "migrate-natpool", body, crash_after, "timer" if crash_after % 2 else "cli")
    assert labels(estate.sim.requests_log()) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT]
    assert any(r["name"] == "MyNatPool" for r in estate.lb()["properties"]["inboundNatRules"])
    assert len(final["portMappings"]["instances"]) == 3, "the old ports captured before the kill are still reported"


@pytest.mark.parametrize("crash_after", [1, 2, 3, 4, 5, 6])
def test_change_probed_port_resumes_after_a_kill_at_each_step(estate: Estate, crash_after: int) -> None:
    body = {"loadBalancer": estate.lb_id, "rule": "MyLoadBalancerRule", "newBackendPort": 8080}
    _crash_then_resume(estate, "change-probed-port", body, crash_after, "timer" if crash_after % 2 else "cli")
    assert labels(estate.sim.requests_log()) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT, VMSS_PUT, UPGRADE, LB_PUT]
    assert estate.vmss()["properties"]["virtualMachineProfile"]["networkProfile"]["healthProbe"]["id"].endswith(
        "/probes/MyHealthProbe")


def test_resume_from_the_tag_alone_when_the_store_is_lost(estate: Estate) -> None:
    body = {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"}
    intent = estate.workflows.parse("migrate-natpool", body)
    with pytest.raises(SimulatedCrash):
        estate.workflows.submit(intent, hooks=Hooks(crash_after_step=2))
    shutil.rmtree(estate.store.root)  # a redeploy with a fresh local disk
    results = estate.workflows.resume_pending([RG_SCOPE.format(sub=estate.sim.subscription_id)])
    assert results == [{"operation": intent.id, "status": "succeeded", "error": None}]
    record = estate.workflows.show(intent.id)
    assert record["notes"][0]["code"] == "RebuiltFromTag"
    assert INTENT_TAG not in (estate.lb().get("tags") or {})


def test_a_second_operation_on_the_same_lb_waits_for_the_first(estate: Estate) -> None:
    from poolkeeper.workflows.preconditions import PreconditionsFailed

    first = estate.workflows.parse("remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"})
    with pytest.raises(SimulatedCrash):
        estate.workflows.submit(first, hooks=Hooks(crash_after_step=1))
    second = estate.workflows.parse("change-probed-port", {"loadBalancer": estate.lb_id, "rule": "MyLoadBalancerRule",
                                                           "newBackendPort": 8080})
    dry = estate.workflows.submit(second, dry_run=True)
    assert [p["code"] for p in dry["problems"]] == ["OperationInProgress"]
    assert first.id in dry["problems"][0]["message"]
    with pytest.raises(PreconditionsFailed):
        estate.workflows.submit(second)
