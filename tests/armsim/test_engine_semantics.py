"""ARM semantics on network resources: ETags, busy resources, throttling, LROs, paging, casing, faults, echoes."""

from __future__ import annotations

import time
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from tests.armsim.test_network_support import API, Estate, error_code, get, instant, put, wait_op
from tests.conftest import SimHandle

RG = "myTutorial8"


def _tut(h: SimHandle, rel: str) -> str:
    return f"/subscriptions/{h.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/{rel}"


@pytest.mark.parametrize("rel", ["loadBalancers/myLoadBalancer", "networkInterfaces/myNic1"])
def test_stale_if_match_and_if_none_match_are_412(tutorial: SimHandle, rel: str) -> None:
    path = _tut(tutorial, rel)
    body = get(tutorial, path)
    stale = body["etag"]
    assert put(tutorial, path, body, headers={"If-Match": stale}).status_code == 200
    resp = tutorial.arm("PUT", path, body, api_version=API, headers={"If-Match": stale})
    assert resp.status_code == 412 and error_code(resp) == "PreconditionFailed"
    resp = tutorial.arm("PUT", path, body, api_version=API, headers={"If-None-Match": "*"})
    assert resp.status_code == 412


def test_write_during_a_write_is_another_operation_in_progress(armsim_factory: Any) -> None:
    h = armsim_factory(time_scale=1.0)
    instant(h)
    e = Estate(h)
    e.vnet()
    h.control("POST", "config", {"durations": {"network.put": 30}})
    first = h.arm("PUT", e.lb_path(), e.lb_body(), api_version=API)
    assert first.status_code == 201 and "Azure-AsyncOperation" in first.headers
    second = h.arm("PUT", e.lb_path(), e.lb_body(), api_version=API)
    assert second.status_code == 409
    assert error_code(second) == "AnotherOperationInProgress"
    assert "/providers/Microsoft.Network/locations/westus/operations/" in second.json()["error"]["message"]
    child = h.arm("DELETE", e.lb_path(child="backendAddressPools/pool"), api_version=API)
    assert child.status_code == 409


def test_throttled_writes_get_429_with_retry_after(armsim_factory: Any) -> None:
    h = armsim_factory(time_scale=1.0, throttle=True)
    e = Estate(h)
    h.control("POST", "config", {"buckets": {"writes": [2, 0.001]}, "durations": {"network.put": 0}})
    statuses = [
        h.arm("PUT", e.path(f"networkSecurityGroups/n{i}"), {"location": "westus"}, api_version=API) for i in range(3)
    ]
    assert [r.status_code for r in statuses[:2]] == [201, 201]
    assert statuses[2].status_code == 429
    assert int(statuses[2].headers["Retry-After"]) >= 1
    assert error_code(statuses[2]) == "SubscriptionRequestsThrottled"


def test_sdk_long_running_create_and_delete(armsim: SimHandle) -> None:
    e = Estate(armsim)
    instant(armsim)
    e.vnet()
    armsim.control("POST", "config", {"durations": {"network.put": 2, "network.delete": 2}})  # x0.01 -> 20 ms
    net = armsim.clients().network
    armsim.reset_log()
    lb = net.load_balancers.begin_create_or_update("rg1", "lb", e.lb_body()).result()
    assert lb.provisioning_state == "Succeeded" and lb.backend_address_pools[0].name == "pool"
    assert any("/operations/" in entry["path"] for entry in armsim.requests_log())
    resp = armsim.arm("DELETE", e.lb_path(child="backendAddressPools/pool"))
    assert resp.status_code == 202 and "Location" in resp.headers
    wait_op(armsim, resp)
    resp = armsim.arm("DELETE", e.lb_path())
    assert resp.status_code == 202
    location = "/" + resp.headers["Location"].split("/", 3)[3]
    first = armsim.arm("GET", location, api_version="")
    assert first.status_code in (202, 204)
    time.sleep(0.05)
    assert armsim.arm("GET", location, api_version="").status_code == 204
    net.public_ip_addresses.begin_create_or_update(
        "rg1", "pip", {"location": "westus", "sku": {"name": "Standard"},
                       "properties": {"publicIPAllocationMethod": "Static"}}).result()
    net.public_ip_addresses.begin_delete("rg1", "pip").result()
    assert armsim.arm("GET", e.path("publicIPAddresses/pip")).status_code == 404


def test_paging_through_the_sdk(armsim: SimHandle) -> None:
    instant(armsim)
    e = Estate(armsim)
    e.vnet()
    for i in range(5):
        e.nic(f"nic{i}")
    armsim.control("POST", "config", {"page_size": 2})
    armsim.reset_log()
    names = [n.name for n in armsim.clients().network.network_interfaces.list("rg1")]
    assert names == [f"nic{i}" for i in range(5)]
    pages = [x for x in armsim.requests_log() if x["path"].endswith("/networkInterfaces")]
    assert len(pages) == 3
    assert len(list(armsim.clients().network.network_interfaces.list_all())) == 5


def test_ids_are_case_insensitive(tutorial: SimHandle) -> None:
    sub = tutorial.subscription_id
    resp = tutorial.arm(
        "GET",
        f"/subscriptions/{sub}/resourcegroups/MYTUTORIAL8/providers/microsoft.network/" f"loadBalancers/MyLoadBalancer",
    )
    assert resp.status_code == 200 and resp.json()["name"] == "myLoadBalancer"
    net = tutorial.clients().network
    assert net.load_balancers.get("mytutorial8", "MYLOADBALANCER").name == "myLoadBalancer"
    # a reference with other casing joins the same pool
    nic = net.network_interfaces.get(RG, "myNic2")
    pool = nic.ip_configurations[0].load_balancer_backend_address_pools[0].id
    nic.ip_configurations[0].load_balancer_backend_address_pools = [
        {"id": pool.upper().replace("SUBSCRIPTIONS", "subscriptions")}
    ]
    net.network_interfaces.begin_create_or_update(RG, "myNic2", nic).result()
    got = net.load_balancer_backend_address_pools.get(RG, "myloadbalancer", "MYBACKENDPOOL")
    assert len(got.backend_ip_configurations) == 3 and got.name == "myBackEndPool"


def test_sdk_retries_through_injected_faults(tutorial: SimHandle) -> None:
    tutorial.control("POST", "faults", {"seed": 1, "rules": [{"kind": "write", "sequence": [503, "drop"]}]})
    net = tutorial.clients(retry_backoff_factor=0.01).network
    nsg = net.network_security_groups.begin_create_or_update(RG, "nsg2", {"location": "westus"}).result()
    assert nsg.name == "nsg2"
    statuses = [x["status"] for x in tutorial.requests_log() if x["kind"] == "write"]
    assert 503 in statuses


@pytest.mark.parametrize(
    "rel",
    [
        "loadBalancers/myLoadBalancer",
        "networkInterfaces/myNic1",
        "virtualNetworks/myVnet",
        "networkSecurityGroups/myNetworkSecurityGroup",
        "publicIPAddresses/myPublicIP",
    ],
)
def test_echoing_a_get_body_back_changes_nothing(tutorial: SimHandle, rel: str) -> None:
    path = _tut(tutorial, rel)
    before = get(tutorial, path)
    assert put(tutorial, path, before).status_code == 200
    after = get(tutorial, path)

    def strip(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: strip(v) for k, v in x.items() if k != "etag"}
        if isinstance(x, list):
            return [strip(v) for v in x]
        return x

    assert strip(after) == strip(before)
    assert after["etag"] != before["etag"]


def test_sdk_read_modify_write_of_the_lb(tutorial: SimHandle) -> None:
    net = tutorial.clients().network
    lb = net.load_balancers.get(RG, "myLoadBalancer")
    lb.probes[0].interval_in_seconds = 5
    out = net.load_balancers.begin_create_or_update(RG, "myLoadBalancer", lb).result()
    assert out.probes[0].interval_in_seconds == 5
    assert len(out.backend_address_pools[0].backend_ip_configurations) == 3
    with pytest.raises(HttpResponseError) as err:
        net.load_balancers.begin_create_or_update(RG, "myLoadBalancer", lb, headers={"If-Match": lb.etag}).result()
    assert err.value.status_code == 412
