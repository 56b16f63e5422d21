"""Parsing and triage of Azure Resource Manager events (Event Grid schema and CloudEvents 1.0).

Pure functions: no Azure. Events are hints: triage only decides *whether* and *where* to reconcile; the reconciler
then reads Azure as it is. Events can repeat, arrive late or out of order, so nothing here depends on order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from poolkeeper.config import Config
from poolkeeper.correlation import is_own_correlation_id
from poolkeeper.events import HANDLED_EVENT_TYPES, HANDLED_OPERATION_NAMES
from poolkeeper.ids import ResourceId, in_scope

OID_CLAIM = "http://schemas.microsoft.com/identity/claims/objectidentifier"

_HANDLED_TYPES = {t.lower() for t in HANDLED_EVENT_TYPES}
_HANDLED_OPS = {o.lower() for o in HANDLED_OPERATION_NAMES}


class MalformedEvent(ValueError):
    """The payload is not an Azure Resource Manager event poolkeeper can read. Dropped, never retried."""


@dataclass(frozen=True)
class ResourceEvent:
    id: str
    event_type: str
    subject: str
    resource_id: str
    operation_name: str
    status: str
    correlation_id: str
    caller_object_id: str
    event_time: str

    @property
    def is_delete(self) -> bool:
        return self.event_type.lower().endswith("resourcedeletesuccess")


@dataclass(frozen=True)
class Decision:
    """What to do with an event: ``reconcile`` (with where), ``ignore`` (why) or ``refuse`` (why)."""

    action: str
    reason: str
    subscription_id: str = ""
    resource_group: str | None = None
    only: frozenset[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "subscriptionId": self.subscription_id,
            "resourceGroup": self.resource_group,
            "only": sorted(self.only) if self.only is not None else None,
        }


def parse_event(raw: Any) -> ResourceEvent:
    """Read one event in Event Grid schema or CloudEvents 1.0 (``specversion``; the published sample spells it
    ``specVersion``). Raises ``MalformedEvent`` naming what is missing."""
    if not isinstance(raw, dict):
        raise MalformedEvent(f"an event must be a JSON object, got {type(raw).__name__}")
    cloud = "specversion" in raw or "specVersion" in raw
    event_type = raw.get("type") if cloud else raw.get("eventType")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent(f"the event has no {'type' if cloud else 'eventType'}; is this an Event Grid event?")
    data = raw.get("data")
    if not isinstance(data, dict):
        raise MalformedEvent(f"event {raw.get('id')!r} has no 'data' object")
    resource_id = data.get("resourceUri") or raw.get("subject")
    if not isinstance(resource_id, str) or not resource_id.lower().startswith("/subscriptions/"):
        raise MalformedEvent(f"event {raw.get('id')!r} has no resource id in data.resourceUri or subject")
    try:
        ResourceId.parse(resource_id)
    except ValueError as err:
        raise MalformedEvent(f"event {raw.get('id')!r}: {err}") from err
    raw_claims = data.get("claims")
    claims: dict[str, Any] = raw_claims if isinstance(raw_claims, dict) else {}
    return ResourceEvent(
        id=str(raw.get("id", "")),
        event_type=event_type,
        subject=str(raw.get("subject", resource_id)),
        resource_id=resource_id,
        operation_name=str(data.get("operationName", "")),
        status=str(data.get("status", "")),
        correlation_id=str(data.get("correlationId", "")),
        caller_object_id=str(claims.get(OID_CLAIM) or claims.get("oid") or ""),
        event_time=str(raw.get("time" if cloud else "eventTime", "")),
    )


def _target(resource_id: str) -> str:
    """The resource a reconcile focuses on: a scale-set instance (or its NIC) maps to its scale set."""
    rid = ResourceId.parse(resource_id)
    if rid.types and rid.types[0].lower() == "virtualmachinescalesets":
        return rid.top.key
    return rid.key


def triage(event: ResourceEvent, config: Config) -> Decision:
    """Decide what an event means for poolkeeper. Pure: the same event always gets the same decision.

    poolkeeper's own writes are recognised by the correlation id it sends on every write (echoed by ARM in
    ``data.correlationId``), never by the caller's identity: an operator may run poolkeeper with the very identity
    they create VMs with, and those VMs must still be wired.
    """
    if event.event_type.lower() not in _HANDLED_TYPES:
        return Decision("ignore", f"event type {event.event_type} is not one poolkeeper handles")
    if event.operation_name.lower() not in _HANDLED_OPS:
        return Decision("ignore", f"operation {event.operation_name or '(none)'} is not one poolkeeper handles")
    if is_own_correlation_id(event.correlation_id):
        return Decision("ignore", f"poolkeeper's own write (correlation id {event.correlation_id}; no feedback loop)")
    if not in_scope(event.resource_id, config.scopes):
        return Decision(
            "refuse",
            f"{event.resource_id} is outside poolkeeper's scopes ({', '.join(config.scopes)}); "
            "add its subscription or resource group to 'scopes' to manage it",
        )
    rid = ResourceId.parse(event.resource_id)
    only = None if event.is_delete else frozenset({_target(event.resource_id)})
    return Decision(
        "reconcile",
        f"{event.operation_name} on {rid.name}",
        subscription_id=rid.subscription,
        resource_group=rid.resource_group,
        only=only,
    )
