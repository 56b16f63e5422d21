"""Subscribing a webhook to Azure Resource Manager events: what ``infra/eventgrid.bicep`` does in Azure, for the
demo, the tests and anyone running ``poolkeeper serve`` against armsim or a dev subscription.

It creates (or updates) a system topic for the subscription and an event subscription delivering exactly the event
types and operations poolkeeper handles (``poolkeeper.events``) to the local host's Event Grid webhook. Event Grid
performs the validation handshake with the webhook before the subscription is accepted.
"""

from __future__ import annotations

import time
from typing import Any

import requests
from azure.core.credentials import TokenCredential

from poolkeeper.clients import arm_scope
from poolkeeper.events import HANDLED_EVENT_TYPES, HANDLED_OPERATION_NAMES
from poolkeeper.pacing import retry_after_from_headers

EVENTGRID_API = "2025-02-15"


def event_subscription_body(endpoint_url: str, *, max_attempts: int = 30, ttl_minutes: int = 1440) -> dict[str, Any]:
    return {
        "properties": {
            "destination": {"endpointType": "WebHook", "properties": {"endpointUrl": endpoint_url}},
            "filter": {
                "includedEventTypes": list(HANDLED_EVENT_TYPES),
                "advancedFilters": [
                    {"operatorType": "StringIn", "key": "data.operationName", "values": list(HANDLED_OPERATION_NAMES)}
                ],
            },
            "eventDeliverySchema": "EventGridSchema",
            "retryPolicy": {"maxDeliveryAttempts": max_attempts, "eventTimeToLiveInMinutes": ttl_minutes},
        }
    }


def subscribe_webhook(
    credential: TokenCredential,
    arm_endpoint: str,
    subscription_id: str,
    resource_group: str,
    endpoint_url: str,
    *,
    topic: str = "poolkeeper-arm-events",
    name: str = "poolkeeper",
    verify: str | bool = True,
    timeout: float = 60.0,
) -> dict[str, Any]:
    """Create the system topic and the webhook subscription; wait until the handshake has succeeded."""
    base = arm_endpoint.rstrip("/")
    token = credential.get_token(arm_scope(arm_endpoint)).token
    session = requests.Session()
    session.verify = verify
    session.headers["Authorization"] = f"Bearer {token}"
    topic_path = (f"/subscriptions/{subscription_id}/resourceGroups/{resource_group}/providers/"
                  f"Microsoft.EventGrid/systemTopics/{topic}")
    deadline = time.monotonic() + timeout
    resp = _put(session, f"{base}{topic_path}",
                {"location": "global", "properties": {"source": f"/subscriptions/{subscription_id}",
                                                      "topicType": "Microsoft.Resources.Subscriptions"}}, deadline)
    _check(resp, "create the Event Grid system topic")
    sub_url = f"{base}{topic_path}/eventSubscriptions/{name}"
    resp = _put(session, sub_url, event_subscription_body(endpoint_url), deadline)
    _check(resp, "create the event subscription")
    while time.monotonic() < deadline:
        body = session.get(sub_url, params={"api-version": EVENTGRID_API}).json()
        state = (body.get("properties") or {}).get("provisioningState")
        if state == "Succeeded":
            return body
        if state in ("Failed", "Canceled"):
            raise RuntimeError(
                f"Event Grid refused the subscription to {endpoint_url}: the validation handshake failed. "
                "Is `poolkeeper serve` running and reachable at that URL?"
            )
        time.sleep(0.05)
    raise TimeoutError(f"the event subscription to {endpoint_url} was not ready within {timeout:.0f} s")


def _put(session: requests.Session, url: str, body: dict[str, Any], deadline: float) -> requests.Response:
    """PUT, waiting out a busy topic (409 ``AnotherOperationInProgress`` while another subscriber's PUT of the shared
    system topic runs) or a throttle (429) for as long as the server asks, until ``deadline``."""
    while True:
        resp = session.put(url, params={"api-version": EVENTGRID_API}, json=body)
        if resp.status_code not in (409, 429) or time.monotonic() >= deadline:
            return resp
        hint = retry_after_from_headers(resp.headers)
        time.sleep(min(0.5 if hint is None else hint, max(0.0, deadline - time.monotonic())))


def _check(resp: requests.Response, what: str) -> None:
    if resp.status_code >= 400:
        raise RuntimeError(f"could not {what}: {resp.status_code} {resp.text[:500]}")
