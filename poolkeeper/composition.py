"""The composition root: the one place that builds poolkeeper's parts from :class:`~poolkeeper.settings.Settings`.

Credential → SDK client cache (one set of clients per subscription) → gateway factory → reconciler, workflows
service and operation store, each built once and shared. The Functions handlers (``handlers/runtime.py``), the CLI
(``cli.py``, ``check_cli.py``, ``workflow_cli.py``), the local host and the demo (``poolkeeper_local``) all call
:func:`build`, so each process has one credential and one client cache. (``Reconciler(config)`` alone still
makes its own cache, for tests that need only a reconciler.)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from azure.core.credentials import TokenCredential

from poolkeeper.clients import DEFAULT_ARM_ENDPOINT, ClientCache, default_credential
from poolkeeper.config import Config, load_config, load_config_from_env
from poolkeeper.gateway import ArmGateway
from poolkeeper.reconciler import Reconciler
from poolkeeper.settings import CONFIG_VAR, Settings
from poolkeeper.workflows.operations import GatewayFactory, Workflows
from poolkeeper.workflows.store import OperationStore, store_from


def load_configuration(settings: Settings, source: str | None = None) -> Config:
    """The configuration from ``source`` (path or inline JSON) or ``POOLKEEPER_CONFIG``; ``POOLKEEPER_ARM_ENDPOINT``
    (an app setting the Bicep sets, and what the demo points at armsim) overrides its ``armEndpoint``."""
    config = load_config(source) if source else load_config_from_env({CONFIG_VAR: settings.config_source})
    if settings.arm_endpoint:
        return dataclasses.replace(config, arm_endpoint=settings.arm_endpoint)
    return config


def gateway_factory(clients: ClientCache) -> GatewayFactory:
    """One :class:`ArmGateway` per run (its correlation id), over the shared client cache."""

    def gateway(subscription_id: str, correlation_id: str) -> ArmGateway:
        return ArmGateway(clients(subscription_id), correlation_id=correlation_id)

    return gateway


@dataclass
class App:
    """Everything one process needs, built once. ``reconciler`` is None when built without a configuration (the
    workflow CLI and the demo's second act need no bindings)."""

    settings: Settings
    config: Config | None
    credential: TokenCredential
    clients: ClientCache
    store: OperationStore
    workflows: Workflows
    reconciler: Reconciler | None

    def require_reconciler(self) -> Reconciler:
        if self.reconciler is None:
            raise RuntimeError("built without a configuration: no reconciler (build(..., configured=True))")
        return self.reconciler

    def close(self) -> None:
        """Close every SDK client (the reconciler and the workflows share them)."""
        self.clients.close()


def build(
    settings: Settings | None = None,
    *,
    config: Config | None = None,
    config_source: str | None = None,
    configured: bool = True,
    credential: TokenCredential | None = None,
    store: OperationStore | None = None,
    arm_endpoint: str | None = None,
) -> App:
    """Build the process's parts.

    ``configured`` (default): load the configuration (``config``, else ``config_source``, else
    ``POOLKEEPER_CONFIG``) and build the reconciler; the workflows are then limited to the configuration's scopes.
    Without it the workflows act anywhere the credential may (the operator's CLI). ``arm_endpoint`` overrides the
    endpoint when there is no configuration (default: ``POOLKEEPER_ARM_ENDPOINT``, else Azure's).
    """
    settings = settings or Settings.from_env()
    if configured and config is None:
        config = load_configuration(settings, config_source)
    endpoint = (config.arm_endpoint if config is not None
                else arm_endpoint or settings.arm_endpoint or DEFAULT_ARM_ENDPOINT)
    cred = credential or default_credential()
    clients = ClientCache(endpoint, cred)
    ops = store if store is not None else store_from(settings)
    reconciler = Reconciler(config, cred, clients=clients) if config is not None else None
    workflows = Workflows(gateway_factory(clients), ops, scopes=config.scopes if config is not None else None)
    return App(settings, config, cred, clients, ops, workflows, reconciler)
