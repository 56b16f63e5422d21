"""Long-running operations: every in-progress answer carries ARM's poll hint, and the real SDK poller follows it.

ARM sends ``Retry-After`` on the answer that starts an operation (PUT 201/200 with ``Azure-AsyncOperation``, DELETE
and action 202 with ``Location``) and on each in-progress poll; clients wait that long before polling again (ARM RPC
v1.0/Addendum.md, "202 Accepted and Location Headers"). armsim sends whole seconds at time scale 1.0 and, below it,
``retry-after-ms`` only (azure-core falls back to it when ``Retry-After`` is absent), so a scaled-down run polls at
the same pace relative to the operations' durations.
"""

from __future__ import annotations

import math
import time
from typing import Any

import requests

from tests.conftest import SimHandle

RG = "rg1"
API = "2024-07-01"


def _setup(sim: SimHandle, put_seconds: float) -> str:
    """A resource group, network PUTs/DELETEs that take ``put_seconds`` (at time scale 1.0); returns the NSG path."""
    sim.arm("PUT", f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}", {"location": "westus"},
            api_version="2024-11-01")
    sim.control("POST", "config", {"durations": {"network.put": put_seconds, "network.delete": put_seconds}})
    return sim.rid(RG, "Microsoft.Network/networkSecurityGroups/nsg")


def _poll(sim: SimHandle, url: str) -> requests.Response:
    return sim.arm("GET", "/" + url.split("/", 3)[3], api_version="")


def _hint_seconds(resp: requests.Response) -> float:
    assert "Retry-After" in resp.headers, dict(resp.headers)
    seconds = int(resp.headers["Retry-After"])  # whole seconds, as ARM sends it
    assert seconds >= 1
    return seconds


def test_every_in_progress_answer_carries_retry_after_at_azure_pace(armsim_factory: Any) -> None:
    sim = armsim_factory(time_scale=1.0, throttle=False)
    path = _setup(sim, put_seconds=30)
    started = sim.arm("PUT", path, {"location": "westus"}, api_version=API)
    assert started.status_code == 201 and _hint_seconds(started) >= 1
    status = _poll(sim, started.headers["Azure-AsyncOperation"])
    assert status.status_code == 200 and status.json()["status"] == "InProgress" and _hint_seconds(status) >= 1

    # DELETE (and resource groups' DELETE): 202 + Location, polled with 202 + Location + Retry-After
    sim.control("POST", "config", {"durations": {"network.put": 0}})
    other = path.replace("/nsg", "/nsg2")
    assert sim.arm("PUT", other, {"location": "westus"}, api_version=API).status_code == 201
    deleting = sim.arm("DELETE", other, api_version=API)
    assert deleting.status_code == 202 and _hint_seconds(deleting) >= 1
    polled = _poll(sim, deleting.headers["Location"])
    assert polled.status_code == 202 and "Location" in polled.headers and _hint_seconds(polled) >= 1
    rg_delete = sim.arm("DELETE", f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}", api_version="2024-11-01")
    assert rg_delete.status_code == 202 and _hint_seconds(rg_delete) >= 1
    assert "Azure-AsyncOperation" not in rg_delete.headers  # ARM answers a group DELETE with Location only


def test_below_time_scale_one_the_hint_is_in_milliseconds_only(armsim_factory: Any) -> None:
    sim = armsim_factory(time_scale=0.01, throttle=False)
    path = _setup(sim, put_seconds=20)  # 0.2 s here
    started = sim.arm("PUT", path, {"location": "westus"}, api_version=API)
    status = _poll(sim, started.headers["Azure-AsyncOperation"])
    rg_delete = sim.arm("DELETE", f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}", api_version="2024-11-01")
    for resp in (started, status, rg_delete):
        assert "Retry-After" not in resp.headers, dict(resp.headers)
        assert 1 <= int(resp.headers["retry-after-ms"]) <= 10  # at most 1 s x 0.01
    assert status.json()["status"] == "InProgress"
    # following the hints until done: the final status answer has none (nothing more to wait for)
    for _ in range(1000):
        time.sleep(int(status.headers["retry-after-ms"]) / 1000)
        status = _poll(sim, started.headers["Azure-AsyncOperation"])
        if status.json()["status"] != "InProgress":
            break
    assert status.json()["status"] == "Succeeded" and "retry-after-ms" not in status.headers


def test_the_sdk_poller_polls_at_the_pace_of_the_hint(armsim_factory: Any) -> None:
    """azure-core's ARM poller waits each hint before polling again: a 2 s operation (at Azure's pace) takes about
    two status polls at armsim's 1 s hint, not dozens. (A poll count, not a timing: the pace is what the hint says.)"""
    sim = armsim_factory(time_scale=0.05, throttle=False)
    _setup(sim, put_seconds=2.0)
    net = sim.clients().network
    sim.reset_log()
    nsg = net.network_security_groups.begin_create_or_update(RG, "paced", {"location": "westus"}).result()
    assert nsg.provisioning_state == "Succeeded"
    polls = [e for e in sim.requests_log() if "/operations/" in e["path"]]
    cap = 1.0  # armsim's hint is at most 1 s (scaled), so ceil(2 s / 1 s) polls, plus one for a poll that lands early
    assert 1 <= len(polls) <= math.ceil(2.0 / cap) + 1, polls
