"""Event Grid trigger: ``on_resource_event`` reacts to VM, scale-set and NIC writes and deletes."""

from __future__ import annotations

import azure.functions as func

from handlers.runtime import reconciler

bp = func.Blueprint()


def event_as_dict(event: func.EventGridEvent) -> dict:
    """Rebuild the event's JSON from the binding (the host has parsed it; poolkeeper parses both schemas)."""
    return {
        "id": event.id,
        "topic": event.topic,
        "subject": event.subject,
        "eventType": event.event_type,
        "eventTime": event.event_time.isoformat() if event.event_time else None,
        "dataVersion": event.data_version,
        "data": event.get_json(),
    }


@bp.event_grid_trigger(arg_name="event")
def on_resource_event(event: func.EventGridEvent) -> None:
    from poolkeeper.service import handle_resource_event  # at first use: indexing does not load the reconciler

    handle_resource_event(reconciler(), event_as_dict(event))
