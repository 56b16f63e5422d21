"""Every environment variable poolkeeper reads, in one place, parsed once into a frozen :class:`Settings`.

The Functions host passes app settings as environment variables (infra/modules/app.bicep sets them in Azure,
``local.settings.json`` locally); the CLI and the local host read the same names. No other module reads the
environment: they take a :class:`Settings` (or build one with :meth:`Settings.from_env`) — the composition root
(``poolkeeper.composition``) builds one per process. ``tests/unit/test_settings.py`` checks that no other module
under ``poolkeeper/`` or ``handlers/`` touches ``os.environ``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

# -- the names ----------------------------------------------------------------------------------------------------
CONFIG_VAR = "POOLKEEPER_CONFIG"  # the bindings and scopes: a JSON file path or inline JSON
ARM_ENDPOINT_VAR = "POOLKEEPER_ARM_ENDPOINT"  # overrides the configuration's armEndpoint (Bicep; armsim in the demo)
LOG_LEVEL_VAR = "POOLKEEPER_LOG_LEVEL"
FUNCTION_KEY_VAR = "POOLKEEPER_FUNCTION_KEY"  # the key `poolkeeper serve` requires (local host only)
OPERATIONS_DIR_VAR = "POOLKEEPER_OPERATIONS_DIR"  # the workflows' operation store: a folder …
OPERATIONS_CONTAINER_VAR = "POOLKEEPER_OPERATIONS_CONTAINER"  # … or a blob container URL (wins when set)
WORKFLOW_WAIT_VAR = "POOLKEEPER_WORKFLOW_WAIT_SECONDS"  # how long an HTTP request waits for its operation
WORKFLOW_RUN_VAR = "POOLKEEPER_WORKFLOW_RUN_SECONDS"  # how long one run of an operation may take (Azure: 200 s)
SWEEP_SCHEDULE_VAR = "POOLKEEPER_SWEEP_SCHEDULE"
RESUME_SCHEDULE_VAR = "POOLKEEPER_RESUME_SCHEDULE"
# Service Bus delivery (docs/scaling.md): the session-enabled queue Event Grid writes events to (the trigger reads it
# as %POOLKEEPER_EVENTS_QUEUE%; handlers/queue.py is registered only when it is set) and the trigger's connection
# prefix (identity-based: POOLKEEPER_SERVICEBUS__fullyQualifiedNamespace)
EVENTS_QUEUE_VAR = "POOLKEEPER_EVENTS_QUEUE"
SERVICEBUS_CONNECTION = "POOLKEEPER_SERVICEBUS"
# Set by the platform or by Azure tooling, read (never written) by poolkeeper:
WEBSITE_INSTANCE_VAR = "WEBSITE_INSTANCE_ID"  # set by App Service / Functions on every instance: "we run in Azure"
SUBSCRIPTION_VAR = "AZURE_SUBSCRIPTION_ID"  # the workflow CLI's default subscription for -g/--lb-name
CLIENT_ID_VAR = "AZURE_CLIENT_ID"  # the user-assigned managed identity (azure-identity reads it too)
IDENTITY_ENDPOINT_VAR = "IDENTITY_ENDPOINT"  # the managed-identity endpoint (App Service; armsim's env file)
CA_BUNDLE_VAR = "REQUESTS_CA_BUNDLE"  # the CA bundle requests (so the SDKs) trust: armsim's, in tests and demo
APPINSIGHTS_CONNECTION_VAR = "APPLICATIONINSIGHTS_CONNECTION_STRING"
APPINSIGHTS_AUTH_VAR = "APPLICATIONINSIGHTS_AUTHENTICATION_STRING"
COLUMNS_VAR = "COLUMNS"  # the terminal width the CLI's tables use when stdout is not a terminal

DEFAULT_OPERATIONS_DIR = ".poolkeeper/operations"
DEFAULT_COLUMNS = 100

# Timer schedules are app settings, referenced as %NAME% in the timer bindings (Azure Functions resolves binding
# expressions from app settings: learn.microsoft.com/azure/azure-functions/functions-bindings-timer, "schedule").
# The defaults here are the ones local.settings.sample.json and infra/modules/app.bicep set; the local host uses them
# when the setting is absent (Azure refuses to index the function instead).
DEFAULT_SCHEDULES: dict[str, str] = {
    SWEEP_SCHEDULE_VAR: "0 */15 * * * *",
    RESUME_SCHEDULE_VAR: "0 */5 * * * *",
}


class SettingsError(ValueError):
    """An environment variable holds a value poolkeeper cannot use (the message names it)."""


def _text(env: Mapping[str, str], name: str) -> str:
    return (env.get(name) or "").strip()


def _seconds(env: Mapping[str, str], name: str) -> float | None:
    text = _text(env, name)
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name}={text!r} is not a number of seconds") from None
    if value < 0:
        raise SettingsError(f"{name}={text!r} must not be negative")
    return value


def _columns(env: Mapping[str, str]) -> int:
    text = _text(env, COLUMNS_VAR)
    return int(text) if text.isdigit() and int(text) > 0 else DEFAULT_COLUMNS


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The process's environment, typed. Empty strings mean "not set"."""

    config_source: str = ""
    arm_endpoint: str = ""  # without a trailing slash; "" keeps the configuration's (or Azure's) endpoint
    log_level: str = ""
    function_key: str | None = None
    operations_dir: str = ""  # "" → DEFAULT_OPERATIONS_DIR
    operations_container: str = ""
    workflow_wait_seconds: float | None = None
    workflow_run_seconds: float | None = None
    in_azure: bool = False
    subscription_id: str = ""
    client_id: str = ""
    identity_endpoint: str = ""
    ca_bundle: str = ""
    appinsights_connection_string: str = ""
    appinsights_authentication_string: str = ""
    columns: int = DEFAULT_COLUMNS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Parse ``environ`` (default ``os.environ``); raises :class:`SettingsError` naming a bad variable."""
        env = os.environ if environ is None else environ
        return cls(
            config_source=_text(env, CONFIG_VAR),
            arm_endpoint=_text(env, ARM_ENDPOINT_VAR).rstrip("/"),
            log_level=_text(env, LOG_LEVEL_VAR).upper(),
            function_key=_text(env, FUNCTION_KEY_VAR) or None,
            operations_dir=_text(env, OPERATIONS_DIR_VAR),
            operations_container=_text(env, OPERATIONS_CONTAINER_VAR),
            workflow_wait_seconds=_seconds(env, WORKFLOW_WAIT_VAR),
            workflow_run_seconds=_seconds(env, WORKFLOW_RUN_VAR),
            in_azure=bool(_text(env, WEBSITE_INSTANCE_VAR)),
            subscription_id=_text(env, SUBSCRIPTION_VAR),
            client_id=_text(env, CLIENT_ID_VAR),
            identity_endpoint=_text(env, IDENTITY_ENDPOINT_VAR),
            ca_bundle=env.get(CA_BUNDLE_VAR) or "",
            appinsights_connection_string=_text(env, APPINSIGHTS_CONNECTION_VAR),
            appinsights_authentication_string=_text(env, APPINSIGHTS_AUTH_VAR),
            columns=_columns(env),
        )

    # -- derived values ------------------------------------------------------------------------------------------
    @property
    def workflow_wait(self) -> float:
        """Seconds an HTTP request waits for its operation: the setting, else 200 in Azure (its 230 s limit), 5
        locally."""
        if self.workflow_wait_seconds is not None:
            return self.workflow_wait_seconds
        return 200.0 if self.in_azure else 5.0

    @property
    def workflow_run(self) -> float | None:
        """Seconds one run of an operation may take: the setting, else 200 in Azure, unbounded locally."""
        if self.workflow_run_seconds is not None:
            return self.workflow_run_seconds
        return 200.0 if self.in_azure else None


def events_queue(environ: Mapping[str, str] | None = None) -> str:
    """The Service Bus queue events are delivered to (empty: none). Read alone, not through :meth:`Settings.from_env`,
    because ``function_app`` needs it to index the functions and a bad unrelated setting must fail at first use."""
    return _text(os.environ if environ is None else environ, EVENTS_QUEUE_VAR)


def resolve_schedule(schedule: str, environ: Mapping[str, str] | None = None) -> str:
    """A timer binding's schedule with ``%NAME%`` replaced by that app setting (or its documented default)."""
    text = schedule.strip()
    if not (text.startswith("%") and text.endswith("%") and len(text) > 2):
        return schedule
    env = os.environ if environ is None else environ
    name = text[1:-1]
    value = _text(env, name) or DEFAULT_SCHEDULES.get(name, "")
    if not value:
        raise ValueError(f"timer schedule {schedule}: app setting {name} is not set")
    return value
