"""The Azure Functions app: registers the blueprints in ``handlers/`` and nothing else."""

import azure.functions as func

from handlers import events, http, timers, workflows

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
app.register_functions(events.bp)
app.register_functions(http.bp)
app.register_functions(timers.bp)
app.register_functions(workflows.bp)
