"""Throttling, server errors and a concurrent edit (412): the workflows still finish, and the other edit survives."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

from poolkeeper.gateway import ArmGateway
from poolkeeper.workflows import INTENT_TAG
from poolkeeper.workflows.runner import Hooks
from tests.workflows.conftest import Estate
from tests.workflows.helpers import LB_PUT, UPGRADE, VMSS_PUT, count, labels


def _migrate(estate: Estate, hooks: Hooks | None = None) -> dict[str, Any]:
    intent = estate.workflows.parse("migrate-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool"})
    return estate.workflows.submit(intent, hooks=hooks)


def _assert_migrated(estate: Estate) -> None:
    lb = estate.lb()
    assert lb["properties"]["inboundNatPools"] == []
    assert any(r["name"] == "MyNatPool" for r in lb["properties"]["inboundNatRules"])
    assert INTENT_TAG not in (lb.get("tags") or {})


@pytest.mark.parametrize("status", [429, 503, 500])
def test_migrate_completes_under_write_faults(estate: Estate, status: int) -> None:
    estate.sim.control("POST", "faults", {"seed": 1, "rules": [{"kind": "write", "rate": 0.3, "status": status}]})
    estate.sim.reset_log()
    record = _migrate(estate)
    assert record["status"] == "succeeded", record.get("error")
    _assert_migrated(estate)
    log = estate.sim.requests_log()
    assert any(e["status"] == status for e in log), "faults were injected"
    # retried writes do not add successful writes: still one per step
    assert count(log, VMSS_PUT) == 1 and count(log, LB_PUT) == 2


def test_remove_completes_under_throttled_actions(estate: Estate) -> None:
    estate.sim.control("POST", "faults", {"seed": 2, "rules": [{"kind": "action", "rate": 0.5, "status": 429,
                                                                "retry_after": 0.01}]})
    intent = estate.workflows.parse("remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool",
                                                       "batchSize": 1})
    estate.sim.reset_log()
    record = estate.workflows.submit(intent)
    assert record["status"] == "succeeded", record.get("error")
    assert count(estate.sim.requests_log(), UPGRADE) == 3


def test_a_412_from_the_lb_is_re_read_and_re_planned(estate: Estate) -> None:
    estate.sim.control("POST", "faults", {"rules": [{"method": "PUT", "path_contains": "loadBalancers",
                                                     "sequence": ["ok", 412]}]})
    estate.sim.reset_log()
    record = _migrate(estate)
    assert record["status"] == "succeeded", record.get("error")
    _assert_migrated(estate)
    step = next(s for s in record["steps"] if s["key"] == "delete-natpool")
    assert step["etagRetries"] == 1


def test_a_concurrent_edit_between_our_read_and_write_survives(estate: Estate) -> None:
    """Another identity adds a load-balancing rule after we read the LB and before we write it: our PUT gets 412,
    we re-read, re-plan, and write again — with their rule in the body."""
    other = ArmGateway(estate.sim.clients(client_id="someone-else", retry_total=0))
    fired: list[str] = []

    def concurrent_edit(step: Any) -> None:
        if step.key != "delete-natpool" or fired:
            return
        lb = other.get_load_balancer(estate.lb_id)
        assert lb
        body = copy.deepcopy(lb)
        rule = copy.deepcopy(body["properties"]["loadBalancingRules"][0])
        rule.pop("id", None)
        rule.pop("etag", None)
        rule["name"] = "TheirHttpsRule"
        rule["properties"].update(frontendPort=443, backendPort=443)
        rule["properties"].pop("probe", None)
        body["properties"]["loadBalancingRules"].append(rule)
        other.put_load_balancer(estate.lb_id, body, lb["etag"])
        fired.append(step.key)

    estate.sim.reset_log()
    record = _migrate(estate, Hooks(before_write=concurrent_edit))
    assert record["status"] == "succeeded", record.get("error")
    assert fired == ["delete-natpool"]
    _assert_migrated(estate)
    names = [r["name"] for r in estate.lb()["properties"]["loadBalancingRules"]]
    assert names == ["MyLoadBalancerRule", "TheirHttpsRule"], "the concurrent edit survived"
    log = estate.sim.requests_log()
    assert any(e["status"] == 412 for e in log), "our stale write was refused, not forced"
    principals = {e.get("principal") for e in log if e["method"] == "PUT" and e["status"] < 300}
    assert len(principals) == 2


def test_100_instances_in_batches_of_20(estate: Estate) -> None:
    """Scale MyVMSS to 100 through the SDK; the NAT pool range 50000-50119 fits; exactly ⌈100/20⌉ = 5 upgrades."""
    gw = estate.gateway()
    vmss = estate.vmss()
    vmss["sku"]["capacity"] = 100
    gw.put_scale_set(estate.vmss_id, vmss, vmss.get("etag"))
    assert len(estate.instances()) == 100
    intent = estate.workflows.parse("remove-natpool", {"loadBalancer": estate.lb_id, "natPool": "MyNatPool",
                                                       "batchSize": 20})
    dry = estate.workflows.submit(intent, dry_run=True)
    assert dry["expectedWrites"]["manualUpgrades"] == 5
    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("remove-natpool", {
        "loadBalancer": estate.lb_id, "natPool": "MyNatPool", "batchSize": 20}))
    assert record["status"] == "succeeded", record.get("error")
    log = estate.sim.requests_log()
    assert count(log, UPGRADE) == math.ceil(100 / 20) == 5
    assert labels(log) == [LB_PUT, VMSS_PUT] + [UPGRADE] * 5 + [LB_PUT]
    upgrade = next(s for s in record["steps"] if s["kind"] == "upgrade-instances")
    assert [len(b["instances"]) for b in upgrade["batches"]] == [20] * 5
    assert all(i["properties"]["latestModelApplied"] for i in estate.instances())
