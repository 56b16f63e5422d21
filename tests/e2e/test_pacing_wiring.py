"""Issue 13 phase 2 against armsim through the real SDKs: writes start from the snapshot's body and ETag (no GET
before a PUT), the NIC writes of one stage run in parallel, and a throttled write is deferred, never refused."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from poolkeeper.config import load_config
from poolkeeper.reconciler import ReconcileOutcome, Reconciler
from poolkeeper_local.localrun import tutorial_config
from tests.conftest import SimHandle
from tests.e2e.conftest import RG, nic_body, vm_body

RESOURCE = re.compile(r"/providers/Microsoft\.Network/(networkInterfaces|loadBalancers)/[^/]+$", re.IGNORECASE)


def reconciler(sim: SimHandle, **kwargs: Any) -> Reconciler:
    return Reconciler(load_config(json.dumps(tutorial_config(sim.info))), **kwargs)


def own(sim: SimHandle, correlation_id: str) -> list[dict[str, Any]]:
    return [e for e in sim.requests_log() if e["correlation_id"] == correlation_id]


def reconcile_once(sim: SimHandle) -> tuple[ReconcileOutcome, list[dict[str, Any]]]:
    """One applied reconcile of the estate, and the requests armsim logged under its correlation id."""
    rec = reconciler(sim)
    try:
        (outcome,) = rec.reconcile_all(dry_run=False)
    finally:
        rec.close()
    return outcome, own(sim, outcome.correlation_id)


def test_writes_start_from_the_snapshot_no_get_before_a_put(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    outcome, log = reconcile_once(sim)
    puts = [e for e in log if e["method"] == "PUT" and RESOURCE.search(e["path"])]
    gets = [e for e in log if e["method"] == "GET" and RESOURCE.search(e["path"])]
    assert outcome.result is not None and outcome.result.writes == 4 == len(puts)  # 1 LB + 3 NICs
    assert all(e["if_match"] for e in puts)  # still conditional: on the ETag the snapshot read
    assert gets == []  # the snapshot's lists gave every body; no GET before a PUT, none after it


def test_no_get_after_a_write_and_polls_carry_the_run(armsim_factory: Callable[..., SimHandle]) -> None:
    """Every request of poolkeeper's principal, not only those with its correlation id: azure-core's poller sent
    a GET of the resource after each write (without the correlation id) — 4 of them here, one per write."""
    sim = armsim_factory(scenario="tutorial")
    outcome, log = reconcile_once(sim)
    principal = {e["principal"] for e in log if e["method"] == "PUT"}
    assert len(principal) == 1
    everything = [e for e in sim.requests_log() if e.get("principal") in principal]
    gets = [e for e in everything if e["method"] == "GET" and RESOURCE.search(e["path"])]
    polls = [e for e in everything if "/operations/" in e["path"].lower()]
    assert outcome.result is not None and outcome.result.writes == 4
    assert gets == []
    assert polls and all(e["correlation_id"] == outcome.correlation_id for e in polls)


def test_nic_writes_of_one_stage_run_in_parallel(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial", time_scale=0.5)  # a NIC PUT runs ~1 s: its poll waits for it
    outcome, log = reconcile_once(sim)
    sequence = ["nic-put" if e["method"] == "PUT" and "/networkInterfaces/" in e["path"] else e["method"]
                for e in log]
    first = sequence.index("nic-put")
    # one after another, every NIC PUT would be followed by its LRO polls before the next NIC PUT
    assert sequence[first:first + 3] == ["nic-put"] * 3, sequence


def test_a_throttled_write_is_deferred_not_refused(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    sim.control("POST", "faults", {"rules": [{"kind": "write", "method": "PUT", "path_contains": "/networkInterfaces/",
                                              "rate": 1.0, "status": 429, "retry_after": 0.05}]})
    rec = reconciler(sim, retry_window_s=0.3, max_rounds=2)
    try:
        (outcome,) = rec.reconcile_all(dry_run=False)
        assert outcome.result is not None
        assert outcome.result.failed == [] and outcome.ok
        assert sorted(d["resource"].rsplit("/", 1)[-1] for d in outcome.result.throttled) == [
            "myNic1", "myNic2", "myNic3"]
        sim.control("POST", "faults", {})
        (after,) = rec.reconcile_all(dry_run=False)  # the next round (event or sweep) wires them
    finally:
        rec.close()
    assert after.result is not None and after.result.writes == 3 and after.result.throttled == []


def test_an_event_run_reads_what_the_event_touches(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    rec = reconciler(sim)
    try:
        rec.reconcile_all(dry_run=False)  # the three tutorial VMs wired
        sim.arm("PUT", sim.rid(RG, "Microsoft.Network/networkInterfaces/myNic4"), nic_body(sim, "myNic4"))
        vm = sim.rid(RG, "Microsoft.Compute/virtualMachines/myVM4")
        assert sim.arm("PUT", vm, vm_body(sim, "myVM4", "myNic4"), api_version="2024-07-01").status_code < 300
        _wait_succeeded(sim, vm)  # its write event comes when the creation ends (the NIC is busy until then)
        outcome = rec.reconcile(sim.subscription_id, resource_group=RG, only={vm})  # as the VM's event asks
    finally:
        rec.close()
    log = own(sim, outcome.correlation_id)
    reads = sorted((e["path"].rsplit("/", 2)[-2], e["path"].rsplit("/", 1)[-1]) for e in log
                   if e["method"] == "GET" and "/operations/" not in e["path"].lower()
                   and "operationstatus" not in e["path"].lower())
    assert outcome.result is not None and outcome.result.writes == 2  # the LB (its NAT rule) and myNic4
    assert reads == [("loadBalancers", "myLoadBalancer"), ("networkInterfaces", "myNic4"),
                     ("virtualMachines", "myVM4")]  # one GET each; no list of the resource group


def test_every_request_is_paced_by_the_shared_budget(armsim_factory: Callable[..., SimHandle]) -> None:
    """The clients of the one cache draw on one budget: lowered to what ARM says remains (another client of the same
    principal spent from the same bucket), and held for everyone by a 429's Retry-After."""
    sim = armsim_factory(scenario="tutorial", throttle=True)
    sim.control("POST", "config", {"buckets": {"reads": [10, 0.001]}})  # ARM's read bucket: 10, refilled ~never
    nics = f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/networkInterfaces"
    for _ in range(4):
        sim.arm("GET", nics)  # another client of the same principal: 4 of ARM's 10 read tokens
    rec = reconciler(sim)
    try:
        clients = rec.clients(sim.subscription_id)
        budget = rec._clients.budgets[sim.subscription_id.lower()]
        list(clients.network.network_interfaces.list(RG))
        assert budget.available("reads") < 100  # ARM said 5 remain (local refill aside): not the local 249
        assert budget.try_acquire("writes") == 0.0  # another kind is untouched
        sim.control("POST", "faults", {"rules": [{"kind": "read", "rate": 1.0, "status": 429, "retry_after": 30,
                                                  "times": 1}]})
        with pytest.raises(HttpResponseError):
            list(clients.network.network_interfaces.list(RG))  # SDK retries are off: the 429 surfaces
        assert budget.try_acquire("reads") > 20  # held: no read before ARM's Retry-After has passed
    finally:
        rec.close()


def _wait_succeeded(sim: SimHandle, resource_id: str) -> None:
    for _ in range(400):
        body = sim.arm("GET", resource_id).json()
        if body["properties"].get("provisioningState") == "Succeeded":
            return
        time.sleep(0.05)
    raise AssertionError(f"{resource_id} never finished provisioning")
