"""Construction of the official Azure SDK clients, pointed at the configured ARM endpoint.

Production uses https://management.azure.com (or a sovereign cloud); tests and the demo use armsim. Only the
endpoint and the CA bundle (REQUESTS_CA_BUNDLE) differ — the clients and the credential are the real ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
CONNECT_TIMEOUT_S = 10


def arm_scope(arm_endpoint: str) -> str:
    """The token scope for an ARM endpoint: ``{endpoint}/.default``."""
    return arm_endpoint.rstrip("/") + "/.default"


def default_credential() -> TokenCredential:
    """Managed identity in Azure (and against armsim), the developer's own login elsewhere."""
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


@dataclass
class ArmClients:
    network: NetworkManagementClient
    compute: ComputeManagementClient
    subscription_id: str
    arm_endpoint: str

    def close(self) -> None:
        self.network.close()
        self.compute.close()


def make_clients(
    subscription_id: str,
    arm_endpoint: str = DEFAULT_ARM_ENDPOINT,
    credential: TokenCredential | None = None,
    **client_kwargs: Any,
) -> ArmClients:
    cred = credential or default_credential()
    # azure-core waits 300 s for a TCP connect by default; ARM answers a connect in milliseconds, so a down endpoint
    # should fail (and be retried by the gateway) within seconds, not minutes.
    client_kwargs.setdefault("connection_timeout", CONNECT_TIMEOUT_S)
    base = arm_endpoint.rstrip("/") + "/"
    scopes = [arm_scope(arm_endpoint)]
    return ArmClients(
        network=NetworkManagementClient(
            cred, subscription_id, base_url=base, credential_scopes=scopes, **client_kwargs
        ),
        compute=ComputeManagementClient(
            cred, subscription_id, base_url=base, credential_scopes=scopes, **client_kwargs
        ),
        subscription_id=subscription_id,
        arm_endpoint=arm_endpoint,
    )


class ClientCache:
    """One set of SDK clients per subscription, made on first use and reused (thread-safe): the one client cache.

    SDK-level retries are off (``retry_total=0``): the gateway retries with tenacity, so every attempt is counted
    and logged with the run's correlation id.
    """

    def __init__(self, arm_endpoint: str, credential: TokenCredential) -> None:
        self.arm_endpoint = arm_endpoint
        self.credential = credential
        self._clients: dict[str, ArmClients] = {}
        self._lock = threading.Lock()

    def __call__(self, subscription_id: str) -> ArmClients:
        key = subscription_id.lower()
        with self._lock:
            if key not in self._clients:
                self._clients[key] = make_clients(subscription_id, self.arm_endpoint, self.credential, retry_total=0)
            return self._clients[key]

    def close(self) -> None:
        with self._lock:
            for clients in self._clients.values():
                clients.close()
            self._clients.clear()
