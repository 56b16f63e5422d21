"""Service Bus trigger: ``on_queued_resource_event`` reads the events Event Grid delivers to a session queue.

Deployed when events go through a session-enabled Service Bus queue (``infra/eventgrid.bicep`` ``serviceBusQueueId``,
SessionId = the event's Azure subscription; docs/scaling.md): one worker at a time holds a subscription's session,
so it owns that subscription's ARM write budget. ``function_app`` registers this blueprint only when the app setting
``POOLKEEPER_EVENTS_QUEUE`` names the queue. Each message body is one event in the subscription's delivery schema
(Event Grid schema: the event's JSON object), handled exactly like ``handlers/events.py``.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

from handlers.runtime import reconciler
from poolkeeper.settings import EVENTS_QUEUE_VAR, SERVICEBUS_CONNECTION

bp = func.Blueprint()


def event_from_body(body: bytes) -> Any:
    """The event JSON of one message (Event Grid writes each event's JSON as the message body).

    A body that is not JSON comes back as its text, which ``handle_resource_event`` logs and drops as malformed:
    the message is completed rather than retried until it is dead-lettered, as for a malformed Event Grid delivery.
    """
    text = body.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


@bp.service_bus_queue_trigger(arg_name="message", queue_name=f"%{EVENTS_QUEUE_VAR}%",
                              connection=SERVICEBUS_CONNECTION, is_sessions_enabled=True)
def on_queued_resource_event(message: func.ServiceBusMessage) -> None:
    from poolkeeper.service import handle_resource_event  # at first use: indexing does not load the reconciler

    handle_resource_event(reconciler(), event_from_body(message.get_body()))
