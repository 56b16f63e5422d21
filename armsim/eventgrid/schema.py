"""The wire formats Event Grid speaks to a webhook: Event Grid schema, CloudEvents 1.0, and the validation event.

Kept apart from delivery so the exact headers and bodies a receiver sees (the contract poolkeeper's handler is
written against) are in one short file that can be checked against Azure's documentation line by line.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

EVENTGRID_SCHEMA = "EventGridSchema"
CLOUDEVENTS_SCHEMA = "CloudEventSchemaV1_0"
SCHEMAS = (EVENTGRID_SCHEMA, CLOUDEVENTS_SCHEMA)
VALIDATION_EVENT_TYPE = "Microsoft.EventGrid.SubscriptionValidationEvent"
WEBHOOK_ORIGIN = "eventgrid.azure.net"

CONTENT_EVENTGRID = "application/json; charset=utf-8"
CONTENT_CLOUDEVENT = "application/cloudevents+json; charset=utf-8"
CONTENT_CLOUDEVENT_BATCH = "application/cloudevents-batch+json; charset=utf-8"


def base_url(url: str) -> str:
    """What Azure shows of a webhook URL (``endpointBaseUrl``): scheme, host and path, never the query string,
    which is where keys and codes travel."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def with_topic(event: dict[str, Any], topic: str) -> dict[str, Any]:
    """The engine's event (no topic) as the system topic publishes it, in Event Grid schema."""
    out = json.loads(json.dumps(event))
    out["topic"] = topic
    return out


def to_cloudevent(event: dict[str, Any]) -> dict[str, Any]:
    """Event Grid schema -> CloudEvents 1.0 structured JSON, as Event Grid maps system events."""
    return {
        "id": event["id"],
        "source": event.get("topic", ""),
        "specversion": "1.0",
        "type": event["eventType"],
        "subject": event.get("subject", ""),
        "time": event.get("eventTime", ""),
        "data": event.get("data"),
    }


def in_schema(event: dict[str, Any], schema: str) -> dict[str, Any]:
    return to_cloudevent(event) if schema == CLOUDEVENTS_SCHEMA else event


def notification(
    events: list[dict[str, Any]], schema: str, subscription_name: str, delivery_count: int, batching: bool
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one delivery request.

    Event Grid schema is always a JSON array (one element unless batching). CloudEvents go one per request as a
    single structured-mode object, or as a ``cloudevents-batch`` array when the subscription batches.
    """
    headers = {
        "aeg-event-type": "Notification",
        "aeg-subscription-name": subscription_name.upper(),
        "aeg-delivery-count": str(delivery_count),
    }
    if len(events) == 1:
        headers["aeg-output-event-id"] = events[0]["id"]
    if schema == CLOUDEVENTS_SCHEMA:
        headers["aeg-metadata-version"] = "1.0"
        headers["WebHook-Request-Origin"] = WEBHOOK_ORIGIN
        ces = [to_cloudevent(e) for e in events]
        if batching:
            headers["Content-Type"] = CONTENT_CLOUDEVENT_BATCH
            return json.dumps(ces).encode(), headers
        headers["Content-Type"] = CONTENT_CLOUDEVENT
        return json.dumps(ces[0]).encode(), headers
    headers["Content-Type"] = CONTENT_EVENTGRID
    headers["aeg-metadata-version"] = str(events[0].get("metadataVersion", "1"))
    headers["aeg-data-version"] = str(events[0].get("dataVersion", ""))
    return json.dumps(events).encode(), headers


def validation_event(topic: str, code: str, validation_url: str, event_time: str) -> list[dict[str, Any]]:
    """The one-element array Event Grid POSTs to a new Event Grid-schema webhook subscription."""
    return [
        {
            "id": str(uuid.uuid4()),
            "topic": topic,
            "subject": "",
            "data": {"validationCode": code, "validationUrl": validation_url},
            "eventType": VALIDATION_EVENT_TYPE,
            "eventTime": event_time,
            "metadataVersion": "1",
            "dataVersion": "1",
        }
    ]


def validation_headers(subscription_name: str) -> dict[str, str]:
    return {
        "Content-Type": CONTENT_EVENTGRID,
        "aeg-event-type": "SubscriptionValidation",
        "aeg-subscription-name": subscription_name.upper(),
        "aeg-delivery-count": "0",
        "aeg-metadata-version": "1",
        "aeg-data-version": "1",
    }


def dead_letter_record(
    event: dict[str, Any], reason: str, attempts: int, outcome: str, status: int | None, published: str, last: str
) -> dict[str, Any]:
    """A dead-lettered event as Event Grid writes it to blob storage: the event plus why and when it gave up."""
    out = dict(event)
    out.update(
        {
            "deadLetterReason": reason,
            "deliveryAttempts": attempts,
            "lastDeliveryOutcome": outcome,
            "lastHttpStatusCode": status or 0,
            "publishTime": published,
            "lastDeliveryAttemptTime": last,
        }
    )
    return out
