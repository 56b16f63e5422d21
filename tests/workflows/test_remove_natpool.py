"""remove-natpool on seed 001's estate: right end state, steps in the seed's order, exact write counts."""

from __future__ import annotations

import json
from typing import Any

from poolkeeper.workflows import INTENT_TAG
from poolkeeper.workflows.step import count_calls
from tests.workflows.conftest import Estate
from tests.workflows.helpers import LB_PUT, PIP_DELETE, UPGRADE, VMSS_PUT, batches, count, labels


def _request(estate: Estate, **extra: Any) -> dict[str, Any]:
    return {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", **extra}


def test_remove_natpool_end_state_order_and_write_count(estate: Estate) -> None:
    intent = estate.workflows.parse("remove-natpool", _request(estate))
    estate.sim.reset_log()
    record = estate.workflows.submit(intent)
    assert record["status"] == "succeeded", record.get("error")

    lb = estate.lb()
    assert lb["properties"]["inboundNatPools"] == []
    assert not [r for r in lb["properties"]["inboundNatRules"] if r["name"].startswith("MyNatPool.")]
    assert INTENT_TAG not in (lb.get("tags") or {}), "a finished operation clears its intent"
    ipc = estate.vmss()["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    assert not ipc["properties"]["ipConfigurations"][0]["properties"].get("loadBalancerInboundNatPools")
    assert all(i["properties"]["latestModelApplied"] for i in estate.instances())
    assert any(f["name"] == "MyFrontendIp" for f in lb["properties"]["frontendIPConfigurations"]), "not asked"

    log = estate.sim.requests_log()
    # seed 001's order: model update → update-instances → NAT pool delete (the intent is recorded first)
    assert labels(log) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT]
    # 1 model update per scale set + ⌈3/20⌉ manualUpgrade + 1 LB write (+1 LB write recording the intent)
    assert count(log, VMSS_PUT) == 1
    assert count(log, UPGRADE) == batches(3, 20)
    assert count(log, LB_PUT) == 1 + 1
    # the dry run promised exactly these writes
    assert record["expectedWrites"] == {"loadBalancerWrites": 2, "scaleSetWrites": 1, "manualUpgrades": 1,
                                        "deletes": 0}


def test_remove_with_frontend_and_public_ip(estate: Estate) -> None:
    intent = estate.workflows.parse("remove-natpool", _request(estate, deleteFrontend=True, deletePublicIp=True))
    estate.sim.reset_log()
    record = estate.workflows.submit(intent)
    assert record["status"] == "succeeded", record.get("error")
    lb = estate.lb()
    assert [f["name"] for f in lb["properties"]["frontendIPConfigurations"]] == ["LoadBalancerFrontEnd"]
    assert estate.gateway().get_public_ip(estate.rid("Microsoft.Network/publicIPAddresses/MyFrontendPublicIP")) is None
    assert INTENT_TAG not in (lb.get("tags") or {})
    log = estate.sim.requests_log()
    # (a) model (b) instances (c) NAT pool (d) frontend, then its public IP; the intent brackets them
    assert labels(log) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT, LB_PUT, PIP_DELETE, LB_PUT]


def test_running_a_finished_removal_again_makes_no_write(estate: Estate) -> None:
    first = estate.workflows.submit(estate.workflows.parse("remove-natpool", _request(estate, deleteFrontend=True)))
    assert first["status"] == "succeeded"
    estate.sim.reset_log()
    again = estate.workflows.submit(estate.workflows.parse("remove-natpool", _request(estate, deleteFrontend=True)))
    assert again["status"] == "succeeded" and again["plan"] == []
    assert labels(estate.sim.requests_log()) == []
    # resuming the finished operation by id makes no write either
    resumed = estate.workflows.resume(first["id"])
    assert resumed["status"] == "succeeded"
    assert labels(estate.sim.requests_log()) == []


def test_dry_run_lists_the_exact_steps_and_changes_nothing(estate: Estate) -> None:
    before = estate.lb()
    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("remove-natpool", _request(estate, deleteFrontend=True)),
                                     dry_run=True)
    assert record["status"] == "dry-run" and record["problems"] == []
    assert [s["key"] for s in record["plan"]] == ["record-intent", "update-model:MyVMSS", "upgrade:MyVMSS:instances",
                                                  "delete-natpool", "delete-frontend"]
    assert record["plan"][2]["batches"] == [["0", "1", "2"]]
    assert any(c.startswith("PUT ") and c.endswith("(If-Match)") for c in record["plan"][0]["armCalls"])
    assert labels(estate.sim.requests_log()) == [], "a dry run writes nothing"
    assert estate.lb()["etag"] == before["etag"]
    # now the real run makes exactly the calls the dry run listed
    estate.sim.reset_log()
    real = estate.workflows.submit(estate.workflows.parse("remove-natpool", _request(estate, deleteFrontend=True)))
    assert real["status"] == "succeeded"
    assert len(labels(estate.sim.requests_log())) == sum(len(s["armCalls"]) for s in record["plan"])


def test_backup_and_progress_are_kept_with_the_operation(estate: Estate) -> None:
    record = estate.workflows.submit(estate.workflows.parse("remove-natpool", _request(estate)))
    stored = estate.workflows.show(record["id"])
    assert stored["status"] == "succeeded"
    assert [s["status"] for s in stored["steps"]] == ["done"] * 4
    upgrade = next(s for s in stored["steps"] if s["kind"] == "upgrade-instances")
    assert upgrade["progress"] == {"done": 3, "total": 3} and len(upgrade["batches"]) == 1
    lb_backup = estate.store.get_backup(record["id"], "lb-MyLoadBalancer")
    assert [p["name"] for p in lb_backup["properties"]["inboundNatPools"]] == ["MyNatPool"]
    vmss_backup = estate.store.get_backup(record["id"], "vmss-MyVMSS")
    assert "MyNatPool" in json.dumps(vmss_backup)


def test_intent_tag_is_compact_and_written_by_the_lb_put(estate: Estate) -> None:
    """Before the first model write, the LB carries {"id","kind","params"} ≤ 256 chars, written under If-Match."""
    from poolkeeper.workflows.runner import Hooks

    seen: list[str] = []

    def look(step: Any) -> None:
        if step.kind == "update-model":
            seen.append((estate.lb().get("tags") or {}).get(INTENT_TAG, ""))

    intent = estate.workflows.parse("remove-natpool", _request(estate, batchSize=2))
    estate.sim.reset_log()
    estate.workflows.submit(intent, hooks=Hooks(before_step=look))
    value = json.loads(seen[0])
    assert value == {"id": intent.id, "kind": "remove-natpool",
                     "params": {"natPool": "MyNatPool", "batchSize": 2, "frontend": "MyFrontendIp"}}
    assert len(seen[0]) <= 256
    first_put = next(e for e in estate.sim.requests_log() if e["method"] == "PUT")
    assert first_put["if_match"], "the intent is written under If-Match"


def test_batches_of_two(estate: Estate) -> None:
    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("remove-natpool", _request(estate, batchSize=2)))
    assert record["status"] == "succeeded"
    assert count(estate.sim.requests_log(), UPGRADE) == 2
    assert count_calls([]) == {"loadBalancerWrites": 0, "scaleSetWrites": 0, "manualUpgrades": 0, "deletes": 0}
