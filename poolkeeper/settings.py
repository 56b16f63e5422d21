"""Loading poolkeeper's configuration the way every entry point does (Functions host, local host, CLI).

``POOLKEEPER_CONFIG`` holds the bindings and scopes; ``POOLKEEPER_ARM_ENDPOINT`` (an app setting the Bicep sets,
and what the demo points at armsim) overrides the configuration's ``armEndpoint``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from poolkeeper.config import Config, load_config, load_config_from_env

ARM_ENDPOINT_VAR = "POOLKEEPER_ARM_ENDPOINT"

# Timer schedules are app settings, referenced as %NAME% in the timer bindings (Azure Functions resolves binding
# expressions from app settings: learn.microsoft.com/azure/azure-functions/functions-bindings-timer, "schedule").
# The defaults here are the ones local.settings.sample.json and infra/modules/app.bicep set; the local host uses them
# when the setting is absent (Azure refuses to index the function instead).
DEFAULT_SCHEDULES: dict[str, str] = {
    "POOLKEEPER_SWEEP_SCHEDULE": "0 */15 * * * *",
    "POOLKEEPER_RESUME_SCHEDULE": "0 */5 * * * *",
}


def with_env_overrides(config: Config, environ: Mapping[str, str] | None = None) -> Config:
    env = os.environ if environ is None else environ
    endpoint = env.get(ARM_ENDPOINT_VAR, "").strip()
    if endpoint:
        return dataclasses.replace(config, arm_endpoint=endpoint.rstrip("/"))
    return config


def load_settings(source: str | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """The configuration from ``source`` (path or inline JSON) or ``POOLKEEPER_CONFIG``, with env overrides."""
    config = load_config(source) if source else load_config_from_env(environ)
    return with_env_overrides(config, environ)


def resolve_schedule(schedule: str, environ: Mapping[str, str] | None = None) -> str:
    """A timer binding's schedule with ``%NAME%`` replaced by that app setting (or its documented default)."""
    env = os.environ if environ is None else environ
    text = schedule.strip()
    if not (text.startswith("%") and text.endswith("%") and len(text) > 2):
        return schedule
    name = text[1:-1]
    value = (env.get(name) or "").strip() or DEFAULT_SCHEDULES.get(name, "")
    if not value:
        raise ValueError(f"timer schedule {schedule}: app setting {name} is not set")
    return value
