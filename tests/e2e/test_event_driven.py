"""Issue 4 acceptance, end to end: Event Grid delivery from armsim to ``poolkeeper serve``, and ARM writes back."""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable
from typing import Any

import pytest
import requests

from armsim.waiting import wait_until
from poolkeeper.correlation import new_correlation_id
from tests.e2e.conftest import RG, Poolkeeper, nic_body, vm_body

pytestmark = pytest.mark.slow


def lb(pk: Poolkeeper) -> dict[str, Any]:
    return pk.operator.network.load_balancers.get(RG, "myLoadBalancer").as_dict()


def nat_rules(pk: Poolkeeper) -> dict[str, dict[str, Any]]:
    return {r["name"]: r.get("properties") or {} for r in (lb(pk)["properties"].get("inboundNatRules") or [])}


def nic_wiring(pk: Poolkeeper, nic: str) -> tuple[list[str], list[str]]:
    body = pk.operator.network.network_interfaces.get(RG, nic).as_dict()
    cfg = body["properties"]["ipConfigurations"][0].get("properties") or {}
    pools = [p["id"].rsplit("/", 1)[-1] for p in cfg.get("loadBalancerBackendAddressPools") or []]
    rules = [r["id"].rsplit("/", 1)[-1] for r in cfg.get("loadBalancerInboundNatRules") or []]
    return pools, rules


def create_vm(pk: Poolkeeper, name: str, nic: str, **kwargs: Any) -> None:
    pk.operator.network.network_interfaces.begin_create_or_update(RG, nic, nic_body(pk.sim, nic)).result()
    body = vm_body(pk.sim, name, nic, **kwargs)
    pk.operator.compute.virtual_machines.begin_create_or_update(RG, name, body).result()


def test_existing_vms_get_nat_rules_numbered_like_seed_000(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    resp = pk.post("reconcile", {})
    assert resp.status_code == 200, resp.text
    rules = nat_rules(pk)
    ports = sorted(p["frontendPort"] for name, p in rules.items() if name.startswith("pk-"))
    assert ports == [50001, 50002, 50003]
    for i in (1, 2, 3):
        pools, nic_rules = nic_wiring(pk, f"myNic{i}")
        assert "myBackEndPool" in pools
        assert nic_rules == [f"pk-myVM{i}-22"]


def test_new_vm_is_wired_by_its_event_and_released_on_delete(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    pk.post("reconcile", {})
    create_vm(pk, "myVM4", "myNic4")
    expected = (["myBackEndPool"], ["pk-myVM4-22"])
    assert wait_until(lambda: nic_wiring(pk, "myNic4") == expected), nic_wiring(pk, "myNic4")
    assert nat_rules(pk)["pk-myVM4-22"]["frontendPort"] == 50004
    pk.operator.compute.virtual_machines.begin_delete(RG, "myVM4").result()
    assert wait_until(lambda: nic_wiring(pk, "myNic4") == ([], []))
    assert wait_until(lambda: "pk-myVM4-22" not in nat_rules(pk))
    assert {"pk-myVM1-22", "pk-myVM2-22", "pk-myVM3-22"} <= set(nat_rules(pk))


def test_twenty_vms_at_once_get_twenty_distinct_ports(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    pk.sim.control("POST", "eventgrid/chaos", {"seed": 7, "concurrency": 4, "duplicate_rate": 0.2, "reorder": True})
    names = [f"web{i:02d}" for i in range(20)]
    for name in names:
        nics = pk.operator.network.network_interfaces
        nics.begin_create_or_update(RG, f"{name}-nic", nic_body(pk.sim, name)).result()
    with cf.ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: pk.operator.compute.virtual_machines.begin_create_or_update(
            RG, n, vm_body(pk.sim, n, f"{n}-nic")).result(), names))
    assert wait_until(lambda: all(nic_wiring(pk, f"{n}-nic")[1] for n in names), timeout=120)
    pk.flush_events()
    rules = nat_rules(pk)
    ports = [rules[f"pk-{n}-22"]["frontendPort"] for n in names]
    assert len(set(ports)) == 20
    assert all(50001 <= p <= 50099 for p in ports)
    for n in names:
        assert nic_wiring(pk, f"{n}-nic") == (["myBackEndPool"], [f"pk-{n}-22"])


def test_replaying_every_event_makes_no_write(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    create_vm(pk, "myVM4", "myNic4")
    assert wait_until(lambda: nic_wiring(pk, "myNic4")[1] == ["pk-myVM4-22"])
    pk.operator.compute.virtual_machines.begin_delete(RG, "myVM4").result()
    assert wait_until(lambda: nic_wiring(pk, "myNic4") == ([], []))
    assert wait_until(lambda: "pk-myVM4-22" not in nat_rules(pk))
    pk.flush_events()
    events = pk.recorder.events()
    assert events, "the recording webhook saw no events"
    pk.sim.reset_log()
    url = pk.host.eventgrid_url("on_resource_event")
    for event in events + list(reversed(events)):  # again, and in reverse order
        resp = requests.post(url, json=[event], headers={"aeg-event-type": "Notification"}, timeout=60)
        assert resp.status_code == 200
    assert pk.writes() == []


def test_concurrent_external_edit_to_the_load_balancer_survives(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    # someone else adds a probe while poolkeeper reconciles: the If-Match write must not erase it
    body = lb(pk)
    body["properties"]["probes"].append({"name": "someoneElsesProbe", "properties": {"protocol": "Tcp", "port": 8080,
                                                                                      "intervalInSeconds": 5}})
    with cf.ThreadPoolExecutor(2) as pool:
        reconcile = pool.submit(pk.post, "reconcile", {})
        edit = pool.submit(lambda: pk.operator.network.load_balancers.begin_create_or_update(
            RG, "myLoadBalancer", body).result())
        edit.result()
        assert reconcile.result().status_code == 200
    pk.post("reconcile", {})
    final = lb(pk)
    assert "someoneElsesProbe" in [p["name"] for p in final["properties"]["probes"]]
    assert {"pk-myVM1-22", "pk-myVM2-22", "pk-myVM3-22"} <= set(nat_rules(pk))


def test_dry_run_returns_the_plan_and_writes_nothing(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    resp = pk.post("reconcile", {}, dryRun="true")
    assert resp.status_code == 200
    kinds = [c["kind"] for o in resp.json()["outcomes"] for c in o["plan"]["changes"]]
    assert kinds.count("CreateNatRule") == 3
    assert pk.writes() == []


def test_bad_reconcile_requests_are_refused_clearly(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    sub = pk.sim.subscription_id
    other_rg = f"/subscriptions/{sub}/resourceGroups/elsewhere/providers/Microsoft.Compute/virtualMachines/x"
    outside = pk.post("reconcile", {"resourceId": other_rg})
    assert outside.status_code == 403
    assert "outside poolkeeper's scopes" in outside.json()["error"]
    assert pk.post("reconcile", {"binding": "nope"}).status_code == 400
    assert pk.post("reconcile", {"resourceId": "not-an-id"}).status_code == 400
    assert pk.post("reconcile", {"typo": 1}).status_code == 400
    garbage = requests.post(f"{pk.url}/api/reconcile", data=b"{not json", timeout=30)
    assert garbage.status_code == 400
    assert "Traceback" not in garbage.text
    assert pk.writes() == []


def test_ignored_events_make_no_write(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    url = pk.host.eventgrid_url("on_resource_event")
    sub = pk.sim.subscription_id
    vm1 = f"/subscriptions/{sub}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachines/myVM1"

    def event(resource: str, oid: str = "someone-else", op: str = "Microsoft.Compute/virtualMachines/write",
              correlation: str = "") -> dict:
        return {"id": "e1", "eventType": "Microsoft.Resources.ResourceWriteSuccess", "subject": resource,
                "eventTime": "2026-11-22T00:00:00Z", "dataVersion": "2", "metadataVersion": "1",
                "topic": f"/subscriptions/{sub}",
                "data": {"resourceUri": resource, "operationName": op, "status": "Succeeded",
                         "correlationId": correlation,
                         "claims": {"http://schemas.microsoft.com/identity/claims/objectidentifier": oid}}}

    cases = [
        [event(vm1.replace(RG, "elsewhere"))],  # out of scope
        [event(vm1, correlation=new_correlation_id())],  # poolkeeper's own write (its correlation id)
        [{"eventType": "Microsoft.Resources.ResourceWriteSuccess", "data": "nope"}],  # malformed
        [event(vm1, op="Microsoft.Storage/storageAccounts/write")],  # not handled
        ["not an object"],
    ]
    for payload in cases:
        resp = requests.post(url, json=payload, headers={"aeg-event-type": "Notification"}, timeout=30)
        assert resp.status_code == 200, resp.text
    assert pk.writes() == []


def test_unknown_binding_tag_is_reported_not_acted_on(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    pk.post("reconcile", {})
    pk.sim.reset_log()
    create_vm(pk, "oddVM", "oddNic", tags={"poolkeeper.binding": "no-such-binding"})
    pk.flush_events()
    plan = pk.post("reconcile", {"resourceId": f"/subscriptions/{pk.sim.subscription_id}/resourceGroups/{RG}/providers/"
                                              "Microsoft.Compute/virtualMachines/oddVM"}, dryRun="true").json()
    reports = [f for o in plan["outcomes"] for f in o["plan"]["findings"]]
    assert any("no-such-binding" in r["message"] for r in reports)
    assert nic_wiring(pk, "oddNic") == ([], [])
    mine = pk.writes_by(pk.poolkeeper_oid())
    assert mine == []


def test_function_key_is_enforced_when_set(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory(function_key="s3cret")
    assert requests.post(f"{pk.url}/api/reconcile", json={}, timeout=30).status_code == 401
    assert requests.get(f"{pk.url}/api/health", timeout=30).status_code == 200
    ok = requests.post(f"{pk.url}/api/reconcile", json={}, params={"dryRun": "true"},
                       headers={"x-functions-key": "s3cret"}, timeout=60)
    assert ok.status_code == 200
