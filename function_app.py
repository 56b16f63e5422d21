"""The Azure Functions app: registers the blueprints in ``handlers/`` and nothing else.

The Service Bus consumer (``handlers/queue.py``) is registered only when the app setting ``POOLKEEPER_EVENTS_QUEUE``
names a queue (events delivered through Service Bus sessions, docs/scaling.md); without it its trigger would name an
app setting that does not exist and the host would refuse to start the function.
"""

import azure.functions as func

from handlers import events, http, timers, workflows
from poolkeeper.settings import events_queue

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(events.bp)
app.register_functions(http.bp)
app.register_functions(timers.bp)
app.register_functions(workflows.bp)
if events_queue():
    from handlers import queue

    app.register_functions(queue.bp)
