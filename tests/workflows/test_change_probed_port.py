"""change-probed-port (seed 001): detach the probe → update instances → change the rule → reattach → update."""

from __future__ import annotations

from typing import Any

from poolkeeper.workflows import INTENT_TAG
from tests.workflows.conftest import Estate
from tests.workflows.helpers import LB_PUT, UPGRADE, VMSS_PUT, labels


def _request(estate: Estate, **extra: Any) -> dict[str, Any]:
    return {"loadBalancer": estate.lb_id, "rule": "MyLoadBalancerRule", "newBackendPort": 8080, **extra}


def test_change_probed_port_in_the_seed_order(estate: Estate) -> None:
    direct = estate.sim.arm("GET", estate.lb_id)
    body = direct.json()
    body["properties"]["loadBalancingRules"][0]["properties"]["backendPort"] = 8080
    refused = estate.sim.arm("PUT", estate.lb_id, body)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "CannotModifyRuleUsedByProbeUsedByVMSS"

    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("change-probed-port", _request(estate)))
    assert record["status"] == "succeeded", record.get("error")
    lb = estate.lb()
    rule = next(r for r in lb["properties"]["loadBalancingRules"] if r["name"] == "MyLoadBalancerRule")
    assert rule["properties"]["backendPort"] == 8080
    probe = estate.vmss()["properties"]["virtualMachineProfile"]["networkProfile"]["healthProbe"]["id"]
    assert probe.endswith("/probes/MyHealthProbe"), "the health probe is reattached"
    assert all(i["properties"]["latestModelApplied"] for i in estate.instances())
    assert INTENT_TAG not in (lb.get("tags") or {})
    assert labels(estate.sim.requests_log()) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT, VMSS_PUT, UPGRADE, LB_PUT]
    assert [s["key"] for s in record["steps"]] == [
        "record-intent", "detach-probe:MyVMSS", "upgrade:MyVMSS:detach", "change-rule", "reattach-probe:MyVMSS",
        "upgrade:MyVMSS:reattach", "clear-intent"]


def test_change_probed_port_twice_makes_no_write(estate: Estate) -> None:
    estate.workflows.submit(estate.workflows.parse("change-probed-port", _request(estate)))
    estate.sim.reset_log()
    again = estate.workflows.submit(estate.workflows.parse("change-probed-port", _request(estate)))
    assert again["status"] == "succeeded" and again["plan"] == []
    assert labels(estate.sim.requests_log()) == []


def test_dry_run_of_change_probed_port(estate: Estate) -> None:
    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("change-probed-port", _request(estate)), dry_run=True)
    assert record["status"] == "dry-run"
    assert [s["key"] for s in record["plan"]] == [
        "record-intent", "detach-probe:MyVMSS", "upgrade:MyVMSS:detach", "change-rule", "reattach-probe:MyVMSS",
        "upgrade:MyVMSS:reattach", "clear-intent"]
    assert labels(estate.sim.requests_log()) == []
