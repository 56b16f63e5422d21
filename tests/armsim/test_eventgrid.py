"""armsim's Event Grid: system topics, event subscriptions (with the webhook handshake) and delivery of ARM events.

Everything goes through raw ARM requests at api-version 2025-02-15 (azure-mgmt-eventgrid is not a dependency) and a
real webhook receiver on 127.0.0.1, so the tests see exactly the HTTP a poolkeeper host would see.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from armsim.eventgrid.testing import Received, WebhookReceiver
from tests.conftest import SimHandle

API = "2025-02-15"
RG_API = "2021-04-01"
TOPIC = "armtopic"
WRITE = "Microsoft.Resources.ResourceWriteSuccess"
DELETE = "Microsoft.Resources.ResourceDeleteSuccess"
RG_WRITE_OP = "Microsoft.Resources/subscriptions/resourceGroups/write"
SETTLED = {"Succeeded", "Failed", "Canceled", "AwaitingManualAction"}


# ----------------------------------------------------------------------------------------------------- helpers
@pytest.fixture
def sim(armsim_factory: Callable[..., SimHandle]) -> SimHandle:
    return armsim_factory(time_scale=0.01)


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def rg_id(sim: SimHandle, rg: str) -> str:
    return f"/subscriptions/{sim.subscription_id}/resourceGroups/{rg}"


def put_rg(sim: SimHandle, name: str) -> None:
    resp = sim.arm("PUT", rg_id(sim, name), {"location": "westus"}, api_version=RG_API)
    assert resp.status_code in (200, 201), resp.text


def wait_settled(sim: SimHandle, path: str, timeout: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = sim.arm("GET", path, api_version=API).json()
        if body.get("properties", {}).get("provisioningState") in SETTLED or time.monotonic() > deadline:
            return body
        time.sleep(0.02)


def make_topic(sim: SimHandle, *, rg: str = "rg-events", name: str = TOPIC, source: str | None = None,
               topic_type: str = "Microsoft.Resources.Subscriptions") -> str:
    """A system topic (subscription-wide unless ``source`` says otherwise); returns its resource id."""
    put_rg(sim, rg)
    tid = sim.rid(rg, f"Microsoft.EventGrid/systemTopics/{name}")
    body = {"location": "global", "properties": {"source": source or f"/subscriptions/{sim.subscription_id}",
                                                  "topicType": topic_type}}
    resp = sim.arm("PUT", tid, body, api_version=API)
    assert resp.status_code == 201, resp.text
    assert wait_settled(sim, tid)["properties"]["provisioningState"] == "Succeeded"
    return tid


def subscribe(sim: SimHandle, topic_id: str, name: str, url: str, **props: Any) -> tuple[Any, dict[str, Any]]:
    """PUT an event subscription with a WebHook destination; returns the PUT response and the settled resource."""
    dest_props = {"endpointUrl": url, **props.pop("destination_properties", {})}
    body = {"properties": {"destination": {"endpointType": "WebHook", "properties": dest_props}, **props}}
    path = f"{topic_id}/eventSubscriptions/{name}"
    resp = sim.arm("PUT", path, body, api_version=API)
    return resp, (wait_settled(sim, path) if resp.status_code < 300 else resp.json())


def flush(sim: SimHandle, timeout: float = 20.0) -> dict[str, Any]:
    out = sim.control("POST", "eventgrid/flush", {"timeout": timeout})
    assert out["empty"]
    return out


def notifications(hook: WebhookReceiver) -> list[Received]:
    return hook.notifications()


# ----------------------------------------------------------------------------------------------------- resources
def test_subscription_handshake_then_resource_write_is_delivered(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    url = hook.url + "?code=secret-key"
    resp, sub = subscribe(sim, topic_id, "poolkeeper-local", url)
    assert resp.status_code == 201
    assert "Azure-AsyncOperation" in resp.headers
    assert sub["properties"]["provisioningState"] == "Succeeded"
    # the handshake: one validation event, aeg-event-type SubscriptionValidation
    handshakes = [r for r in hook.requests if r.kind == "SubscriptionValidation"]
    assert len(handshakes) == 1
    (validation,) = handshakes[0].json
    assert validation["eventType"] == "Microsoft.EventGrid.SubscriptionValidationEvent"
    assert validation["data"]["validationCode"]
    assert handshakes[0].path == "/api/events?code=secret-key"
    # the URL is write-only; Azure shows its base and hands the full URL out through getFullUrl
    dest = sub["properties"]["destination"]["properties"]
    assert "endpointUrl" not in dest
    assert dest["endpointBaseUrl"] == hook.url
    assert sub["properties"]["retryPolicy"] == {"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1440}
    assert sub["properties"]["eventDeliverySchema"] == "EventGridSchema"
    assert sub["properties"]["topic"] == f"/subscriptions/{sim.subscription_id}"
    full = sim.arm("POST", f"{topic_id}/eventSubscriptions/poolkeeper-local/getFullUrl", api_version=API)
    assert full.status_code == 200 and full.json() == {"endpointUrl": url}

    put_rg(sim, "rg-app")
    flush(sim)
    writes = [e for e in hook.events() if e["subject"] == rg_id(sim, "rg-app")]
    assert len(writes) == 1
    ev = writes[0]
    assert ev["eventType"] == WRITE
    assert ev["data"]["operationName"] == RG_WRITE_OP
    assert ev["topic"] == f"/subscriptions/{sim.subscription_id}"
    assert ev["dataVersion"] == "2" and ev["metadataVersion"] == "1"
    req = next(r for r in notifications(hook) if ev in r.events())
    assert req.headers["aeg-event-type"] == "Notification"
    assert req.headers["aeg-subscription-name"] == "POOLKEEPER-LOCAL"
    assert req.headers["aeg-delivery-count"] == "0"
    assert req.headers["aeg-data-version"] == "2"
    assert req.headers["content-type"].startswith("application/json")
    assert isinstance(req.json, list)


def test_public_ip_write_is_delivered(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    subscribe(sim, topic_id, "s1", hook.url, filter={"subjectEndsWith": "/pip1"})
    pip = sim.rid("rg-events", "Microsoft.Network/publicIPAddresses/pip1")
    body = {"location": "westus", "sku": {"name": "Standard"},
            "properties": {"publicIPAllocationMethod": "Static"}}
    assert sim.arm("PUT", pip, body).status_code in (200, 201)
    flush(sim)
    events = hook.events()
    assert [e["subject"].lower() for e in events] == [pip.lower()]
    assert events[0]["data"]["operationName"] == "Microsoft.Network/publicIPAddresses/write"


def test_vm_write_is_delivered(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    subscribe(sim, topic_id, "vms", hook.url, filter={
        "advancedFilters": [{"operatorType": "StringIn", "key": "data.operationName",
                             "values": ["Microsoft.Compute/virtualMachines/write"]}]})
    vm = sim.rid("rg-events", "Microsoft.Compute/virtualMachines/vm1")
    body = {"location": "westus", "properties": {
        "hardwareProfile": {"vmSize": "Standard_B2s"},
        "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts",
                                              "sku": "server", "version": "latest"}},
        "osProfile": {"computerName": "vm1", "adminUsername": "azureuser"},
        "networkProfile": {"networkInterfaces": []}}}
    resp = sim.arm("PUT", vm, body)
    assert resp.status_code < 300, resp.text
    flush(sim, 60)
    events = hook.events()
    assert [e["subject"].lower() for e in events] == [vm.lower()]
    assert events[0]["eventType"] == WRITE
    assert events[0]["data"]["operationName"] == "Microsoft.Compute/virtualMachines/write"


def test_event_subscription_needs_its_system_topic_and_a_valid_body(sim: SimHandle, hook: WebhookReceiver) -> None:
    put_rg(sim, "rg-events")
    missing = sim.rid("rg-events", "Microsoft.EventGrid/systemTopics/nope")
    resp, _ = subscribe(sim, missing, "s1", hook.url)
    assert resp.status_code == 404
    assert resp.json()["error"]["code"] == "ParentResourceNotFound"
    topic_id = make_topic(sim)
    for props in (
        {"retryPolicy": {"maxDeliveryAttempts": 31}},
        {"eventDeliverySchema": "CustomInputSchema"},
        {"filter": {"advancedFilters": [{"operatorType": "StringLike", "key": "subject", "values": ["x"]}]}},
        {"destination_properties": {"maxEventsPerBatch": 0}},
    ):
        resp, _ = subscribe(sim, topic_id, "bad", hook.url, **props)
        assert resp.status_code == 400, props
    body = {"properties": {"destination": {"endpointType": "AzureFunction", "properties": {"resourceId": "/x"}}}}
    resp = sim.arm("PUT", f"{topic_id}/eventSubscriptions/fn", body, api_version=API)
    assert resp.status_code == 400 and "WebHook" in resp.json()["error"]["message"]
    # one system topic per source, location global
    dup = sim.rid("rg-events", "Microsoft.EventGrid/systemTopics/second")
    body = {"location": "global", "properties": {"source": f"/subscriptions/{sim.subscription_id}",
                                                 "topicType": "Microsoft.Resources.Subscriptions"}}
    assert sim.arm("PUT", dup, body, api_version=API).status_code == 400
    assert not [r for r in hook.requests if r.kind == "Notification"]


def test_deleting_the_topic_deletes_its_subscriptions(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    subscribe(sim, topic_id, "s1", hook.url)
    listed = sim.arm("GET", f"{topic_id}/eventSubscriptions", api_version=API).json()["value"]
    assert [s["name"] for s in listed] == ["s1"]
    assert sim.arm("DELETE", topic_id, api_version=API).status_code in (200, 202)
    flush(sim)
    before = len(hook.events())
    put_rg(sim, "rg-after")
    flush(sim)
    assert len(hook.events()) == before
    assert sim.arm("GET", f"{topic_id}/eventSubscriptions/s1", api_version=API).status_code == 404


# ----------------------------------------------------------------------------------------------------- handshake
def test_failed_handshake_refuses_the_subscription(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver(handshake="refuse") as hook:
        resp, sub = subscribe(sim, topic_id, "refused", hook.url + "?code=k")
        assert resp.status_code == 201
        assert sub["properties"]["provisioningState"] == "Failed"
        status = sim.arm("GET", urlsplit(resp.headers["Azure-AsyncOperation"]).path, api_version=API).json()
        assert status["status"] == "Failed"
        assert status["error"]["code"] == "Url validation"
        assert status["error"]["message"].startswith(f"Webhook validation handshake failed for {hook.url}.")
        assert "code=k" not in status["error"]["message"]
        put_rg(sim, "rg-x")
        flush(sim)
        assert not hook.notifications()


def test_unreachable_endpoint_refuses_the_subscription(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver() as hook:
        url = hook.url
    _, sub = subscribe(sim, topic_id, "dead", url)
    assert sub["properties"]["provisioningState"] == "Failed"


def test_manual_validation_waits_for_the_validation_url(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver(handshake="manual") as hook:
        _, sub = subscribe(sim, topic_id, "manual", hook.url)
        assert sub["properties"]["provisioningState"] == "AwaitingManualAction"
        (validation,) = next(r for r in hook.requests if r.kind == "SubscriptionValidation").json
        assert sim.http.get(validation["data"]["validationUrl"]).status_code == 200
        path = f"{topic_id}/eventSubscriptions/manual"
        assert wait_settled(sim, path)["properties"]["provisioningState"] == "Succeeded"


def test_update_with_the_same_endpoint_is_not_revalidated(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    subscribe(sim, topic_id, "s1", hook.url)
    path = f"{topic_id}/eventSubscriptions/s1"
    current = sim.arm("GET", path, api_version=API).json()  # echo it back: endpointBaseUrl only, no endpointUrl
    current["properties"]["filter"]["subjectBeginsWith"] = rg_id(sim, "keep")
    assert sim.arm("PUT", path, current, api_version=API).status_code == 200
    assert wait_settled(sim, path)["properties"]["provisioningState"] == "Succeeded"
    assert len([r for r in hook.requests if r.kind == "SubscriptionValidation"]) == 1
    full = sim.arm("POST", f"{path}/getFullUrl", api_version=API).json()
    assert full == {"endpointUrl": hook.url}


# ----------------------------------------------------------------------------------------------------- filters
def test_filters_select_event_types_subjects_and_operations(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver() as by_type, WebhookReceiver() as by_subject, WebhookReceiver() as advanced:
        subscribe(sim, topic_id, "types", by_type.url, filter={"includedEventTypes": [DELETE]})
        subscribe(sim, topic_id, "subject", by_subject.url, filter={
            "subjectBeginsWith": f"/SUBSCRIPTIONS/{sim.subscription_id}/resourcegroups/KEEP"})
        subscribe(sim, topic_id, "advanced", advanced.url, filter={
            "includedEventTypes": [WRITE],
            "advancedFilters": [
                {"operatorType": "StringIn", "key": "data.operationName", "values": [RG_WRITE_OP.upper()]},
                {"operatorType": "StringContains", "key": "subject", "values": ["keep", "also"]},
                {"operatorType": "StringBeginsWith", "key": "eventType", "values": ["microsoft.resources."]},
                {"operatorType": "StringNotIn", "key": "subject", "values": [rg_id(sim, "keep-2")]},
            ]})
        for name in ("keep-1", "keep-2", "other-also", "other"):
            put_rg(sim, name)
        assert sim.arm("DELETE", rg_id(sim, "other"), api_version=RG_API).status_code == 202
        flush(sim)
        assert [e["subject"] for e in by_type.events()] == [rg_id(sim, "other")]
        assert all(e["eventType"] == DELETE for e in by_type.events())
        assert sorted(e["subject"] for e in by_subject.events()) == [rg_id(sim, "keep-1"), rg_id(sim, "keep-2")]
        assert sorted(e["subject"] for e in advanced.events()) == [rg_id(sim, "keep-1"), rg_id(sim, "other-also")]


def test_resource_group_topic_only_sees_its_group(sim: SimHandle, hook: WebhookReceiver) -> None:
    put_rg(sim, "scoped")
    topic_id = make_topic(sim, rg="scoped", name="rgtopic", source=rg_id(sim, "scoped"),
                          topic_type="Microsoft.Resources.ResourceGroups")
    subscribe(sim, topic_id, "inside", hook.url)  # its own creation is a write inside the group
    put_rg(sim, "elsewhere")
    flush(sim)
    subjects = [e["subject"] for e in hook.events()]
    assert f"{topic_id}/eventSubscriptions/inside" in subjects
    assert rg_id(sim, "elsewhere") not in subjects
    assert all(e["topic"] == rg_id(sim, "scoped") for e in hook.events())


# ----------------------------------------------------------------------------------------------------- CloudEvents
def test_cloudevents_schema_uses_options_handshake_and_structured_mode(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    _, sub = subscribe(sim, topic_id, "ce", hook.url, eventDeliverySchema="CloudEventSchemaV1_0",
                       filter={"subjectEndsWith": "/rg-ce"})
    assert sub["properties"]["provisioningState"] == "Succeeded"
    options = [r for r in hook.requests if r.method == "OPTIONS"]
    assert len(options) == 1 and options[0].headers["webhook-request-origin"] == "eventgrid.azure.net"
    assert not [r for r in hook.requests if r.kind == "SubscriptionValidation"]
    put_rg(sim, "rg-ce")
    flush(sim)
    (req,) = hook.notifications()
    assert req.headers["content-type"].startswith("application/cloudevents+json")
    ce = req.json
    assert isinstance(ce, dict)
    assert ce["specversion"] == "1.0"
    assert ce["type"] == WRITE
    assert ce["source"] == f"/subscriptions/{sim.subscription_id}"
    assert ce["subject"] == rg_id(sim, "rg-ce")
    assert ce["data"]["operationName"] == RG_WRITE_OP
    assert ce["id"] and ce["time"]


def test_cloudevents_handshake_without_allowed_origin_is_refused(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver(allow_origin=False) as hook:
        _, sub = subscribe(sim, topic_id, "ce", hook.url, eventDeliverySchema="CloudEventSchemaV1_0")
    assert sub["properties"]["provisioningState"] == "Failed"


# ----------------------------------------------------------------------------------------------------- retries
def test_retries_until_delivered_with_increasing_delivery_count(sim: SimHandle) -> None:
    topic_id = make_topic(sim)

    def flaky(req: Received, index: int) -> tuple[int, Any] | None:
        return (503, {"error": "busy"}) if index < 2 else None

    with WebhookReceiver(respond=flaky) as hook:
        subscribe(sim, topic_id, "flaky", hook.url, filter={"subjectEndsWith": "/rg-retry"})
        put_rg(sim, "rg-retry")
        flush(sim)
        reqs = hook.notifications()
        assert [r.headers["aeg-delivery-count"] for r in reqs] == ["0", "1", "2"]
        assert len({r.events()[0]["id"] for r in reqs}) == 1
    stats = sim.control("GET", "eventgrid/stats")
    assert stats["delivered"] == 1 and stats["failed"] == 2 and stats["pending"] == 0
    log = [e for e in stats["recent"] if e["subscription"] == "flaky"]
    assert [(e["attempt"], e["status"], e["outcome"]) for e in log] == [
        (1, 503, "Failed"), (2, 503, "Failed"), (3, 200, "Delivered")]


def dead_letters(sim: SimHandle, name: str) -> list[dict[str, Any]]:
    folder = Path(sim.sim.state_dir) / "deadletter" / name
    return [e for f in sorted(folder.rglob("*.json")) for e in json.loads(f.read_text())]


DEAD_LETTER = {"endpointType": "StorageBlob", "properties": {
    "resourceId": "/subscriptions/x/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/sa",
    "blobContainerName": "deadletters"}}


def test_dead_letter_after_max_delivery_attempts(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver(respond=lambda req, i: (500, None)) as hook:
        subscribe(sim, topic_id, "broken", hook.url, filter={"subjectEndsWith": "/rg-dl"},
                  retryPolicy={"maxDeliveryAttempts": 2, "eventTimeToLiveInMinutes": 1440},
                  deadLetterDestination=DEAD_LETTER)
        put_rg(sim, "rg-dl")
        flush(sim)
        assert len(hook.notifications()) == 2
    (dead,) = dead_letters(sim, "broken")
    assert dead["subject"] == rg_id(sim, "rg-dl")
    assert dead["deadLetterReason"] == "MaxDeliveryAttemptsExceeded"
    assert dead["deliveryAttempts"] == 2 and dead["lastHttpStatusCode"] == 500
    assert sim.control("GET", "eventgrid/stats")["dead_lettered"] == 1


def test_bad_request_is_not_retried_and_no_destination_drops(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver(respond=lambda req, i: (400, None)) as hook:
        subscribe(sim, topic_id, "rejects", hook.url, filter={"subjectEndsWith": "/rg-400"},
                  deadLetterWithResourceIdentity={"identity": {"type": "SystemAssigned"},
                                                  "deadLetterDestination": DEAD_LETTER})
        subscribe(sim, topic_id, "drops", hook.url, filter={"subjectEndsWith": "/rg-400"})
        put_rg(sim, "rg-400")
        flush(sim)
        assert len(hook.notifications()) == 2  # one attempt each
    (dead,) = dead_letters(sim, "rejects")
    assert dead["deliveryAttempts"] == 1 and dead["lastHttpStatusCode"] == 400
    stats = sim.control("GET", "eventgrid/stats")
    assert stats["dead_lettered"] == 1 and stats["dropped"] == 1


def test_time_to_live_dead_letters_before_max_attempts(sim: SimHandle) -> None:
    topic_id = make_topic(sim)  # at time scale 0.01 one minute of TTL is 0.6 s; retries come at 0.1, 0.4, 1.0 s
    with WebhookReceiver(respond=lambda req, i: (503, None)) as hook:
        subscribe(sim, topic_id, "ttl", hook.url, filter={"subjectEndsWith": "/rg-ttl"},
                  retryPolicy={"maxDeliveryAttempts": 30, "eventTimeToLiveInMinutes": 1},
                  deadLetterDestination=DEAD_LETTER)
        put_rg(sim, "rg-ttl")
        flush(sim)
        assert 1 < len(hook.notifications()) < 30
    (dead,) = dead_letters(sim, "ttl")
    assert dead["deadLetterReason"] == "TimeToLiveExceeded"


# ----------------------------------------------------------------------------------------------------- chaos
def publish_groups(sim: SimHandle, names: list[str]) -> None:
    """Write resource groups in one engine step, so their events are all ready at the same moment."""
    sim.sim.call(lambda: [sim.engine.ensure_resource_group(n, "westus") for n in names])


def test_chaos_duplicates_deliver_the_same_event_id_twice(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    subscribe(sim, topic_id, "dups", hook.url, filter={"subjectBeginsWith": rg_id(sim, "dup-")})
    sim.control("POST", "eventgrid/chaos", {"seed": 1, "duplicate_rate": 1.0})
    publish_groups(sim, ["dup-1", "dup-2", "dup-3"])
    flush(sim)
    ids = [e["id"] for e in hook.events()]
    assert len(ids) == 6 and len(set(ids)) == 3
    assert sim.control("GET", "eventgrid/stats")["duplicates"] == 3


def test_chaos_reorder_and_delay_shuffle_delivery(sim: SimHandle, hook: WebhookReceiver) -> None:
    topic_id = make_topic(sim)
    subscribe(sim, topic_id, "order", hook.url, filter={"subjectBeginsWith": rg_id(sim, "ord-")})
    names = [f"ord-{i:02d}" for i in range(12)]
    orders = []
    for seed in (1, 2):
        hook.requests.clear()
        sim.control("POST", "eventgrid/chaos", {"seed": seed, "reorder": True, "delay_ms": [0, 50]})
        publish_groups(sim, names)
        flush(sim)
        got = [e["subject"].rsplit("/", 1)[1] for e in hook.events()]
        assert sorted(got) == names
        orders.append(got)
    assert orders[0] != names or orders[1] != names
    sim.control("POST", "eventgrid/chaos", {})
    hook.requests.clear()
    publish_groups(sim, names)
    flush(sim)
    assert [e["subject"].rsplit("/", 1)[1] for e in hook.events()] == names


def test_batching_by_chaos_and_by_max_events_per_batch(sim: SimHandle) -> None:
    topic_id = make_topic(sim)
    with WebhookReceiver() as chaos_hook, WebhookReceiver() as own_hook:
        subscribe(sim, topic_id, "plain", chaos_hook.url, filter={"subjectBeginsWith": rg_id(sim, "b-")})
        subscribe(sim, topic_id, "own", own_hook.url, filter={"subjectBeginsWith": rg_id(sim, "b-")},
                  destination_properties={"maxEventsPerBatch": 3})
        sim.control("POST", "eventgrid/chaos", {"batch_size": 10})
        publish_groups(sim, [f"b-{i}" for i in range(5)])
        flush(sim)
        assert [len(r.events()) for r in chaos_hook.notifications()] == [5]
        assert [len(r.events()) for r in own_hook.notifications()] == [3, 2]


def test_chaos_knobs_are_validated(sim: SimHandle) -> None:
    resp = sim.http.post(sim.info.control_endpoint + "eventgrid/chaos", json={"duplicates": 1})
    assert resp.status_code == 400 and "unknown chaos knob" in resp.json()["error"]
    resp = sim.http.post(sim.info.control_endpoint + "eventgrid/chaos", json={"delay_ms": [5, 1]})
    assert resp.status_code == 400
