"""The ARM resources that configure delivery: ``Microsoft.EventGrid/systemTopics`` and their ``eventSubscriptions``.

They are modelled with Azure's names and shapes so that the same Bicep/SDK bodies poolkeeper deploys to Azure
(``infra/modules/app.bicep``, ``infra/eventgrid.bicep``) can be sent to armsim — only the destination differs: armsim
delivers to ``WebHook`` endpoints (poolkeeper's local host), since there is no Functions runtime behind it.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from armsim import ids
from armsim.errors import ArmError
from armsim.eventgrid import filters, schema
from armsim.provider import ActionResult, Ctx, Provider, strip_keys
from armsim.store import Record

if TYPE_CHECKING:
    from armsim.eventgrid.delivery import Dispatcher

TOPIC_TYPE = "Microsoft.EventGrid/systemTopics"
SUBSCRIPTION_TYPE = "Microsoft.EventGrid/systemTopics/eventSubscriptions"
SUBSCRIPTIONS_TOPIC = "Microsoft.Resources.Subscriptions"
RESOURCE_GROUPS_TOPIC = "Microsoft.Resources.ResourceGroups"
# SimConfig duration kind of an event subscription PUT: infinite, because the handshake ends it, not the clock.
VALIDATION_KIND = "eventgrid.validation"
READ_ONLY = frozenset({"id", "name", "type", "systemData", "provisioningState", "endpointBaseUrl", "metricResourceId"})


def _bad(message: str) -> ArmError:
    return ArmError(400, "InvalidRequest", message)


def covers(source: str, subject: str) -> bool:
    """Whether a system topic with this source publishes events about ``subject`` (case-insensitive prefix)."""
    s, subj = ids.key(source), subject.rstrip("/").lower()
    return subj == s or subj.startswith(s + "/")


class SystemTopicProvider(Provider):
    """A system topic for Azure Resource Manager events of a subscription or of one resource group."""

    type = TOPIC_TYPE
    etag_style = None
    put_duration_kind = "eventgrid.put"
    delete_duration_kind = "eventgrid.put"

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        body = strip_keys(body, READ_ONLY)
        props = body.setdefault("properties", {})
        old = (existing or {}).get("properties", {})
        source, topic_type = props.get("source") or old.get("source"), props.get("topicType") or old.get("topicType")
        if not source or not topic_type:
            raise _bad("properties.source and properties.topicType are required for a system topic.")
        if existing and (ids.key(source) != ids.key(old["source"]) or topic_type.lower() != old["topicType"].lower()):
            raise _bad("The source and topicType of a system topic cannot be changed; delete and recreate it.")
        sub_id = f"/subscriptions/{ctx.engine.subscription_id}"
        if topic_type.lower() == SUBSCRIPTIONS_TOPIC.lower():
            topic_type = SUBSCRIPTIONS_TOPIC
            if ids.key(source) != ids.key(sub_id):
                raise _bad(f"The source of a {SUBSCRIPTIONS_TOPIC} system topic must be '{sub_id}', not '{source}'.")
        elif topic_type.lower() == RESOURCE_GROUPS_TOPIC.lower():
            topic_type = RESOURCE_GROUPS_TOPIC
            rg = ids.resource_group_of(source)
            if not rg or ids.key(source) != ids.key(ctx.engine.rg_id(rg)) or ctx.engine.resource_group(rg) is None:
                raise _bad(f"The source '{source}' of a {RESOURCE_GROUPS_TOPIC} system topic must be an existing "
                           f"resource group id ('{sub_id}/resourceGroups/<name>').")
        else:
            raise _bad(f"armsim supports topicType {SUBSCRIPTIONS_TOPIC} and {RESOURCE_GROUPS_TOPIC}, "
                       f"not '{topic_type}'.")
        if str(body.get("location", "global")).lower() != "global":
            raise _bad(f"The location of a {topic_type} system topic must be 'global'.")
        for other in ctx.store.of_type(TOPIC_TYPE):
            other_source = other.body.get("properties", {}).get("source", "")
            if ids.key(other.id) != ids.key(resource_id) and ids.key(other_source) == ids.key(source):
                raise _bad(f"Only one system topic is allowed per source; '{other.id}' already has source '{source}'.")
        props.update(source=source, topicType=topic_type)
        props["metricResourceId"] = (existing or {}).get("properties", {}).get("metricResourceId") or _guid(resource_id)
        body["location"] = "global"
        return body

    def after_delete(self, ctx: Ctx, record: Record) -> None:
        """Event subscriptions go with their topic (they are child resources in Azure)."""
        prefix = ids.key(record.id) + "/"
        for rec in ctx.store:
            if ids.key(rec.id).startswith(prefix):
                ctx.store.remove(rec.id)


def _guid(seed: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, seed.lower()))


class EventSubscriptionProvider(Provider):
    """An event subscription on a system topic, delivering to a webhook after Event Grid's validation handshake."""

    type = SUBSCRIPTION_TYPE
    etag_style = None
    requires_location = False
    put_duration_kind = VALIDATION_KIND
    delete_duration_kind = "eventgrid.put"

    def __init__(self, dispatcher: Dispatcher) -> None:
        self.dispatcher = dispatcher

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        topic = ctx.store.get(ids.parent_id(resource_id))
        if topic is None or topic.type.lower() != TOPIC_TYPE.lower():
            raise ArmError(404, "ParentResourceNotFound",
                           f"The system topic '{ids.parent_id(resource_id)}' of event subscription '{resource_id}' was "
                           "not found. Create the Microsoft.EventGrid/systemTopics resource first.")
        body = strip_keys(body, READ_ONLY)
        body.pop("location", None)
        props = body.setdefault("properties", {})
        old = (existing or {}).get("properties", {})
        props.pop("topic", None)
        props["destination"] = self._destination(props.get("destination"), old.get("destination"))
        props["filter"] = filters.normalize(props.get("filter"))
        delivery_schema = props.get("eventDeliverySchema") or old.get("eventDeliverySchema") or schema.EVENTGRID_SCHEMA
        if delivery_schema not in schema.SCHEMAS:
            raise _bad(f"eventDeliverySchema '{delivery_schema}' is not supported by armsim; "
                       f"use one of {schema.SCHEMAS}.")
        if existing and delivery_schema != old.get("eventDeliverySchema"):
            raise _bad("The eventDeliverySchema of an event subscription cannot be changed; delete and recreate it.")
        props["eventDeliverySchema"] = delivery_schema
        props["retryPolicy"] = self._retry_policy(props.get("retryPolicy"))
        props["labels"] = props.get("labels") or []
        dl = props.get("deadLetterDestination") or (props.get("deadLetterWithResourceIdentity") or {}).get(
            "deadLetterDestination")
        if dl is not None:
            dlp = dl.get("properties") or {}
            if dl.get("endpointType") != "StorageBlob" or not dlp.get("resourceId") or not dlp.get("blobContainerName"):
                raise _bad("A deadLetterDestination must be {endpointType: 'StorageBlob', properties: {resourceId, "
                           "blobContainerName}}.")
        props["topic"] = topic.body["properties"]["source"]
        return body

    @staticmethod
    def _destination(dest: Any, old: dict[str, Any] | None) -> dict[str, Any]:
        if not isinstance(dest, dict):
            raise _bad("properties.destination is required: {endpointType: 'WebHook', properties: {endpointUrl}}.")
        if dest.get("endpointType") != "WebHook":
            raise _bad(f"armsim delivers only to endpointType 'WebHook', not '{dest.get('endpointType')}'. Point the "
                       "subscription at the local function host's URL (e.g. "
                       "http://127.0.0.1:7071/runtime/webhooks/EventGrid?functionName=on_resource_event).")
        dp = dict(dest.get("properties") or {})
        url = dp.get("endpointUrl") or ((old or {}).get("properties") or {}).get("endpointUrl")
        parts = urlsplit(url or "")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _bad(f"destination.properties.endpointUrl must be an absolute http(s) URL, not '{url}'.")
        dp["endpointUrl"] = url
        batch = dp.get("maxEventsPerBatch", 1)
        kb = dp.get("preferredBatchSizeInKilobytes", 64)
        if not isinstance(batch, int) or not 1 <= batch <= 5000:
            raise _bad("destination.properties.maxEventsPerBatch must be an integer from 1 to 5000.")
        if not isinstance(kb, int) or not 1 <= kb <= 1024:
            raise _bad("destination.properties.preferredBatchSizeInKilobytes must be an integer from 1 to 1024.")
        dp.update(maxEventsPerBatch=batch, preferredBatchSizeInKilobytes=kb)
        return {"endpointType": "WebHook", "properties": dp}

    @staticmethod
    def _retry_policy(raw: Any) -> dict[str, int]:
        rp = dict(raw or {})
        attempts = rp.get("maxDeliveryAttempts", 30)
        ttl = rp.get("eventTimeToLiveInMinutes", 1440)
        if not isinstance(attempts, int) or not 1 <= attempts <= 30:
            raise _bad("retryPolicy.maxDeliveryAttempts must be an integer from 1 to 30.")
        if not isinstance(ttl, int) or not 1 <= ttl <= 1440:
            raise _bad("retryPolicy.eventTimeToLiveInMinutes must be an integer from 1 to 1440.")
        return {"maxDeliveryAttempts": attempts, "eventTimeToLiveInMinutes": ttl}

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        """The endpoint URL is write-only (it may carry a key): Azure shows ``endpointBaseUrl`` instead."""
        dp = body.get("properties", {}).get("destination", {}).get("properties", {})
        url = dp.pop("endpointUrl", None)
        if url:
            dp["endpointBaseUrl"] = schema.base_url(url)
        return body

    def after_put(self, ctx: Ctx, record: Record, previous: dict[str, Any] | None) -> None:
        self.dispatcher.request_validation(record.id, previous)

    def after_delete(self, ctx: Ctx, record: Record) -> None:
        self.dispatcher.forget(record.id)

    def action(self, ctx: Ctx, record: Record, name: str, body: Any) -> ActionResult:
        if name.lower() != "getfullurl":
            return super().action(ctx, record, name, body)
        url = record.body["properties"]["destination"]["properties"]["endpointUrl"]
        return ActionResult(200, {"endpointUrl": url})


def endpoint_url(record: Record) -> str:
    return str(record.body["properties"]["destination"]["properties"]["endpointUrl"])


def dead_letter_destination(record: Record) -> dict[str, Any] | None:
    props = record.body["properties"]
    return props.get("deadLetterDestination") or (props.get("deadLetterWithResourceIdentity") or {}).get(
        "deadLetterDestination")
