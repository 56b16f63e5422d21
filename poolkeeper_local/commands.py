"""``poolkeeper serve`` and ``poolkeeper demo``: the CLI's local sub-commands (reached from ``poolkeeper.cli`` through
one lazy import, so the deployable package never imports this one)."""

from __future__ import annotations

import argparse
import errno
import json
import os

from armsim.signals import wait_for_signal
from poolkeeper.clierrors import CliError
from poolkeeper.composition import load_configuration
from poolkeeper.settings import CONFIG_VAR, Settings

EXIT_OK = 0


def serve(args: argparse.Namespace) -> int:
    """The Functions app on the local host until SIGINT/SIGTERM; prints its URLs as one JSON line."""
    if args.config:  # the handlers build from the app settings, as in Azure: hand --config over as one
        os.environ[CONFIG_VAR] = args.config
    load_configuration(Settings.from_env())  # fail now, naming the bad field, rather than at the first event
    import function_app
    from poolkeeper_local.host import LocalHost

    try:
        host = LocalHost(function_app.app, host=args.host, port=args.port, function_key=args.function_key,
                         timers=not args.no_timers).start()
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise CliError(f"port {args.port} on {args.host} is already in use: stop what listens there, or pick "
                           f"another with --port (0 picks a free one)") from err
        raise
    print(json.dumps({"url": host.base_url, "eventgrid_webhook": host.eventgrid_url("on_resource_event"),
                      "functions": host.function_names()}), flush=True)
    wait_for_signal()
    host.stop()
    return EXIT_OK


def demo(args: argparse.Namespace) -> int:
    """The guided demo on armsim (``make demo``)."""
    from poolkeeper_local.demo import run_demo

    return int(run_demo(time_scale=args.time_scale))
