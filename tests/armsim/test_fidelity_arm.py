"""ARM-wide fidelity (issue 15): rate-limit headers that move, the global subscription bucket, a 429 without any
retry hint, 404 InvalidResourceType for unknown nested types, LocationRequired, the network provisioning states."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential

from tests.armsim.test_network_support import API, Estate, error_code, get, instant
from tests.conftest import SimHandle


def _token(h: SimHandle, client_id: str) -> str:
    return ManagedIdentityCredential(client_id=client_id).get_token(h.info.arm_endpoint + ".default").token


def test_remaining_subscription_headers_decrement_per_request(armsim_factory: Any) -> None:
    h = armsim_factory(time_scale=1.0, throttle=True)
    e = Estate(h)
    h.control("POST", "config", {"buckets": {"reads": [50, 0.001]}})
    left = [int(h.arm("GET", e.path("networkSecurityGroups"), api_version=API)
                .headers["x-ms-ratelimit-remaining-subscription-reads"]) for _ in range(3)]
    assert left[0] < 50 and left == [left[0], left[0] - 1, left[0] - 2]


def test_global_bucket_is_shared_by_principals_and_fifteen_times_larger(armsim_factory: Any) -> None:
    h = armsim_factory(time_scale=1.0, throttle=True)
    Estate(h)
    h.control("POST", "config", {"buckets": {"writes": [1, 0.0001]}})
    statuses = []
    for i in range(16):  # 16 principals, one write each: the 16th exceeds the global bucket of 15 x 1
        token = _token(h, str(uuid.uuid5(uuid.NAMESPACE_URL, f"principal-{i}")))
        path = f"/subscriptions/{h.subscription_id}/resourceGroups/rg1/providers/Microsoft.Network/" \
               f"networkSecurityGroups/n{i}"
        resp = h.arm("PUT", path, {"location": "westus"}, api_version=API, token=token)
        statuses.append(resp)
    assert all(r.status_code == 201 for r in statuses[:15]), [r.status_code for r in statuses]
    assert statuses[0].headers["x-ms-ratelimit-remaining-subscription-writes"] == "0"
    assert statuses[0].headers["x-ms-ratelimit-remaining-subscription-global-writes"] == "14"
    assert statuses[14].headers["x-ms-ratelimit-remaining-subscription-global-writes"] == "0"
    last = statuses[15]
    assert last.status_code == 429 and error_code(last) == "SubscriptionRequestsThrottled"
    assert "global" in last.json()["error"]["message"] and "Retry-After" in last.headers


def test_injected_429_without_any_retry_hint(armsim: SimHandle) -> None:
    e = Estate(armsim)
    armsim.control("POST", "faults", {"rules": [{"kind": "read", "rate": 1.0, "status": 429, "retryHint": False}]})
    resp = armsim.arm("GET", e.path("networkSecurityGroups"), api_version=API)
    assert resp.status_code == 429
    assert not {k.lower() for k in resp.headers} & {"retry-after", "retry-after-ms", "x-ms-retry-after-ms"}
    armsim.control("POST", "faults", {"rules": [{"kind": "read", "rate": 1.0, "status": 429}]})
    assert "retry-after-ms" in armsim.arm("GET", e.path("networkSecurityGroups"), api_version=API).headers


def test_unknown_nested_resource_type_is_404_invalid_resource_type(armsim: SimHandle) -> None:
    e = Estate(armsim)
    instant(armsim)
    e.vnet()
    e.lb()
    resp = armsim.arm("GET", e.lb_path(child="backendPoolz/pool"), api_version=API)
    assert resp.status_code == 404 and error_code(resp) == "InvalidResourceType"


def test_put_without_location_is_location_required(armsim: SimHandle) -> None:
    e = Estate(armsim)
    resp = armsim.arm("PUT", e.path("networkSecurityGroups/nsg"), {"properties": {}}, api_version=API)
    assert resp.status_code == 400 and error_code(resp) == "LocationRequired"
    with pytest.raises(HttpResponseError) as err:
        armsim.clients().network.network_security_groups.begin_create_or_update("rg1", "nsg2", {}).result()
    assert err.value.error is not None and err.value.error.code == "LocationRequired"


def test_network_resource_being_created_reads_updating_not_creating(armsim_factory: Any) -> None:
    h = armsim_factory(time_scale=1.0)
    e = Estate(h)
    h.control("POST", "config", {"durations": {"network.put": 30}})
    resp = h.arm("PUT", e.path("networkSecurityGroups/nsg"), {"location": "westus"}, api_version=API)
    assert resp.status_code == 201
    assert resp.json()["properties"]["provisioningState"] == "Updating"
    assert get(h, e.path("networkSecurityGroups/nsg"))["properties"]["provisioningState"] == "Updating"


def test_network_delete_keeps_the_resource_deleting_until_the_operation_ends(armsim_factory: Any) -> None:
    h = armsim_factory(time_scale=1.0)
    instant(h)
    e = Estate(h)
    nsg = e.path("networkSecurityGroups/nsg")
    assert h.arm("PUT", nsg, {"location": "westus"}, api_version=API).status_code == 201
    h.control("POST", "config", {"durations": {"network.delete": 30}})
    resp = h.arm("DELETE", nsg, api_version=API)
    assert resp.status_code == 202 and "Location" in resp.headers
    assert get(h, nsg)["properties"]["provisioningState"] == "Deleting"
    again = h.arm("PUT", nsg, {"location": "westus"}, api_version=API)
    assert again.status_code == 409 and error_code(again) == "AnotherOperationInProgress"
    assert h.arm("DELETE", nsg, api_version=API).status_code == 202  # a second DELETE joins the running one
    h.sim.call(lambda: h.engine.finish_operation(h.engine.store.get(nsg).busy_op))  # the 30 s operation ends
    assert h.arm("GET", nsg, api_version=API).status_code == 404


def test_writes_referencing_a_resource_being_deleted_are_retryable_429(armsim_factory: Any) -> None:
    h = armsim_factory(time_scale=1.0)
    instant(h)
    e = Estate(h)
    e.vnet()
    e.lb()
    pool = e.lb_path(child="backendAddressPools/pool")
    e.nic("nic", pools=[pool])
    h.control("POST", "config", {"durations": {"network.delete": 30}})
    # a pool member is deleted; while it is Deleting, an LB write that still sees it is refused
    e.nic("nic2", pools=[pool])
    assert h.arm("DELETE", e.path("networkInterfaces/nic2"), api_version=API).status_code == 202
    lb = get(h, e.lb_path())
    resp = h.arm("PUT", e.lb_path(), lb, api_version=API)
    assert resp.status_code == 429 and error_code(resp) == "RetryableError"
    detail = resp.json()["error"]["details"][0]
    assert detail["code"] == "ReferencedResourceNotProvisioned" and "Deleting state" in detail["message"]
    assert "retry-after-ms" in resp.headers
    # and a NIC joining the pool of a load balancer being deleted
    e.lb("gone")
    assert h.arm("DELETE", e.lb_path("gone"), api_version=API).status_code == 202
    resp = e.nic("late", expect=None, pools=[e.lb_path("gone", "backendAddressPools/pool")])
    assert resp.status_code == 429 and "Deleting state" in resp.json()["error"]["details"][0]["message"]


def test_compute_remaining_resource_header_counts_down(tutorial: SimHandle) -> None:
    vm = tutorial.rid("myTutorial8", "Microsoft.Compute/virtualMachines/myVM1")

    def left() -> int:
        header = tutorial.arm("GET", vm).headers["x-ms-ratelimit-remaining-resource"]
        return int(header.split(",")[0].split(";")[1])

    first, second = left(), left()
    assert second == first - 1
