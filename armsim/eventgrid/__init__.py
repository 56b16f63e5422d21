"""Microsoft.EventGrid for armsim: system topics, event subscriptions and webhook delivery of ARM events.

poolkeeper reacts to Azure Resource Manager events delivered by Event Grid; locally, armsim plays Event Grid: it
keeps the system topics and event subscriptions poolkeeper's templates create, validates webhook endpoints as Azure
does, and pushes every matching engine event to them with Azure's retry, dead-letter and (optionally) chaotic
delivery behaviour.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from armsim.simulator import Runtime


def install(rt: Runtime) -> None:
    from armsim.eventgrid import control
    from armsim.eventgrid.delivery import Dispatcher
    from armsim.eventgrid.resources import VALIDATION_KIND, EventSubscriptionProvider, SystemTopicProvider

    # An event subscription PUT is an operation that only the validation handshake ends (finish_operation).
    rt.config.durations.setdefault(VALIDATION_KIND, float("inf"))
    dispatcher = Dispatcher(rt)
    rt.engine.register(SystemTopicProvider())
    rt.engine.register(EventSubscriptionProvider(dispatcher))
    rt.engine.event_listeners.append(dispatcher.on_event)
    rt.background.append(dispatcher.run)
    control.register(rt, dispatcher)
    rt.eventgrid = dispatcher  # type: ignore[attr-defined]  # for in-process tests and scenarios
