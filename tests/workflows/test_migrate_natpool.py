"""migrate-natpool: NAT pool → NAT rule V2 keeping frontend, range, protocol and backend port; one LB write."""

from __future__ import annotations

import logging
from typing import Any

from poolkeeper.workflows import INTENT_TAG
from tests.workflows.conftest import Estate
from tests.workflows.helpers import LB_PUT, UPGRADE, VMSS_PUT, batches, count, is_port_query, labels


def _request(estate: Estate, **extra: Any) -> dict[str, Any]:
    return {"loadBalancer": estate.lb_id, "natPool": "MyNatPool", **extra}


def _model_ipconfig(estate: Estate) -> dict[str, Any]:
    nic = estate.vmss()["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    return nic["properties"]["ipConfigurations"][0]["properties"]


def test_migrate_reuses_the_matching_pool(estate: Estate) -> None:
    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("migrate-natpool", _request(estate)))
    assert record["status"] == "succeeded", record.get("error")
    lb = estate.lb()
    assert lb["properties"]["inboundNatPools"] == []
    rule = next(r for r in lb["properties"]["inboundNatRules"] if r["name"] == "MyNatPool")
    rp = rule["properties"]
    assert (rp["frontendPortRangeStart"], rp["frontendPortRangeEnd"], rp["backendPort"], rp["protocol"]) == (
        50000, 50119, 22, "Tcp")
    assert rp["frontendIPConfiguration"]["id"].endswith("/frontendIPConfigurations/MyFrontendIp")
    assert rp["backendAddressPool"]["id"].endswith("/backendAddressPools/MyBackendPool"), "reused: same members"
    assert INTENT_TAG not in (lb.get("tags") or {})
    assert not _model_ipconfig(estate).get("loadBalancerInboundNatPools")

    log = estate.sim.requests_log()
    # record intent → model (swap) → instances → ONE LB write that deletes the pool and creates the rule
    assert labels(log) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT]
    assert count(log, VMSS_PUT) == 1 and count(log, UPGRADE) == batches(3, 20) and count(log, LB_PUT) == 1 + 1


def test_migrate_creates_a_pool_and_adds_it_to_the_model(estate: Estate) -> None:
    estate.sim.reset_log()
    record = estate.workflows.submit(estate.workflows.parse("migrate-natpool", _request(estate, backendPool="create")))
    assert record["status"] == "succeeded", record.get("error")
    lb = estate.lb()
    rule = next(r for r in lb["properties"]["inboundNatRules"] if r["name"] == "MyNatPool")
    assert rule["properties"]["backendAddressPool"]["id"].endswith("/backendAddressPools/MyNatPool-backend")
    pools = [r["id"].rsplit("/", 1)[-1] for r in _model_ipconfig(estate)["loadBalancerBackendAddressPools"]]
    assert pools == ["MyBackendPool", "MyNatPool-backend"]
    pool = next(p for p in lb["properties"]["backendAddressPools"] if p["name"] == "MyNatPool-backend")
    assert len(pool["properties"].get("backendIPConfigurations") or []) == 3, "exactly the NAT pool's instances"
    # the pool is created by the same LB write that records the intent: still one model write and one batch
    log = estate.sim.requests_log()
    assert labels(log) == [LB_PUT, VMSS_PUT, UPGRADE, LB_PUT]


def test_migrate_reports_old_and_new_ports_per_instance(estate: Estate) -> None:
    record = estate.workflows.submit(estate.workflows.parse("migrate-natpool", _request(estate)))
    report = record["portMappings"]
    assert [m["frontendPort"] for m in report["before"]] == [50000, 50001, 50002]
    assert len(report["instances"]) == 3
    first = report["instances"][0]
    assert first["before"]["inboundNatRulePortMappings"] == [
        {"inboundNatRuleName": "MyNatPool.0", "protocol": "Tcp", "frontendPort": 50000, "backendPort": 22}]
    # Azure's answer (LoadBalancers_ListInboundNatRulePortMappings), one query per instance NIC ip configuration
    assert report["afterSource"] == "azure" and "afterNote" not in report
    assert first["after"]["inboundNatRulePortMappings"] == [
        {"inboundNatRuleName": "MyNatPool", "protocol": "Tcp", "frontendPort": 50000, "backendPort": 22}]
    assert [m["after"]["inboundNatRulePortMappings"][0]["frontendPort"] for m in report["instances"]] == [
        50000, 50001, 50002]
    assert [m["portChanged"] for m in report["instances"]] == [False, False, False]
    assert sum(1 for e in estate.sim.requests_log() if is_port_query(e)) == 3
    assert record["armCalls"]["query"] == 3
    notes = {n["code"] for n in record["notes"]}
    assert {"PortsMayChange", "ConnectivityGap"} <= notes


def test_refused_port_query_falls_back_to_the_pool_listing_then_a_prediction(estate: Estate) -> None:
    """A role without …/queryInboundNatRulePortMapping/action gets a 403: the migration still succeeds, a warning is
    logged, and the "after" ports come from the backend pool's own listing (``inboundNatRulesPortMapping``, which
    Azure fills in from api-version 2021-03-01); where the pool lists none, they are predicted and the report says
    so."""
    from poolkeeper.workflows.intents import Intent
    from poolkeeper.workflows.runner import _port_report

    refuse = {"method": "POST", "path_contains": "queryInboundNatRulePortMapping", "rate": 1.0, "status": 403}
    estate.sim.control("POST", "faults", {"rules": [refuse]})
    seen: list[logging.LogRecord] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = seen.append  # type: ignore[method-assign]
    logger = logging.getLogger("poolkeeper.workflows")
    logger.addHandler(handler)
    try:
        record = estate.workflows.submit(estate.workflows.parse("migrate-natpool", _request(estate)))
    finally:
        logger.removeHandler(handler)
    assert record["status"] == "succeeded", record.get("error")
    report = record["portMappings"]
    assert report["afterSource"] == "azure" and "afterNote" not in report
    assert [m["after"]["inboundNatRulePortMappings"][0]["frontendPort"] for m in report["instances"]] == [
        50000, 50001, 50002]
    assert any("port mapping query" in r.getMessage() and getattr(r, "status", None) == 403 for r in seen)
    # refused once, not retried per instance
    assert sum(1 for e in estate.sim.requests_log() if is_port_query(e)) == 1

    # the same load balancer as an older api-version answers it (no per-member listing): a prediction
    lb = estate.lb()
    for pool in lb["properties"]["backendAddressPools"]:
        for address in pool["properties"].get("loadBalancerBackendAddresses") or []:
            (address.get("properties") or {}).pop("inboundNatRulesPortMapping", None)
    intent = Intent(id="x", kind="migrate-natpool", load_balancer=estate.lb_id,
                    params={"natPool": "MyNatPool", "backendPool": "MyBackendPool"})
    predicted = _port_report({"before": report["before"]}, lb, intent, None)
    assert predicted["afterSource"] == "predicted"
    assert "queryInboundNatRulePortMapping/action" in predicted["afterNote"]
    assert [m["after"]["inboundNatRulePortMappings"][0]["frontendPort"] for m in predicted["instances"]] == [
        50000, 50001, 50002]


def test_connectivity_gap_is_between_the_instance_update_and_the_rule(estate: Estate) -> None:
    """While instances leave the NAT pool and before the rule V2 exists, no per-instance NAT path exists."""
    from poolkeeper.workflows.runner import Hooks

    observed: list[tuple[str, int, bool]] = []

    def look(step: Any) -> None:
        lb = estate.lb()
        derived = [r for r in lb["properties"]["inboundNatRules"] if r["name"].startswith("MyNatPool.")]
        v2 = any(r["name"] == "MyNatPool" for r in lb["properties"]["inboundNatRules"])
        observed.append((step.key, len(derived), v2))

    record = estate.workflows.submit(estate.workflows.parse("migrate-natpool", _request(estate)),
                                     hooks=Hooks(before_step=look))
    assert record["status"] == "succeeded"
    assert observed == [("record-intent", 3, False), ("update-model:MyVMSS", 3, False),
                        ("upgrade:MyVMSS:instances", 3, False),
                        ("delete-natpool", 0, False)]  # the gap: instances updated, rule not yet created
    lb = estate.lb()
    assert any(r["name"] == "MyNatPool" for r in lb["properties"]["inboundNatRules"])


def test_migrating_again_makes_no_write(estate: Estate) -> None:
    estate.workflows.submit(estate.workflows.parse("migrate-natpool", _request(estate)))
    estate.sim.reset_log()
    again = estate.workflows.submit(estate.workflows.parse("migrate-natpool", _request(estate)))
    assert again["status"] == "succeeded" and again["plan"] == []
    assert labels(estate.sim.requests_log()) == []
