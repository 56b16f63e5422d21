"""Construction of the official Azure SDK clients, pointed at the configured ARM endpoint.

Production uses https://management.azure.com (or a sovereign cloud); tests and the demo use armsim. Only the
endpoint and the CA bundle (REQUESTS_CA_BUNDLE) differ — the clients and the credential are the real ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.identity import DefaultAzureCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.network import NetworkManagementClient

from poolkeeper.pacing import ArmBudget, kind_of, retry_after_from_headers

DEFAULT_ARM_ENDPOINT = "https://management.azure.com"
CONNECT_TIMEOUT_S = 10


def arm_scope(arm_endpoint: str) -> str:
    """The token scope for an ARM endpoint: ``{endpoint}/.default``."""
    return arm_endpoint.rstrip("/") + "/.default"


def default_credential() -> TokenCredential:
    """Managed identity in Azure (and against armsim), the developer's own login elsewhere."""
    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


class PacingPolicy(SansIOHTTPPolicy):  # type: ignore[type-arg]
    """Every request the SDK sends (LRO polls included) waits for a token of its kind in the shared ``ArmBudget``.

    After the answer, the budget is lowered to ARM's ``x-ms-ratelimit-remaining-subscription-*`` figures, and a 429's
    ``Retry-After`` holds that kind for every thread (Microsoft Learn, "Understand how Azure Resource Manager throttles
    requests": the remaining-requests headers and Retry-After on 429). A per-call policy: it runs once per SDK call,
    and SDK retries are off (the gateway retries, each attempt a call).
    """

    def __init__(self, budget: ArmBudget) -> None:
        self.budget = budget

    def on_request(self, request: PipelineRequest) -> None:  # type: ignore[type-arg]
        self.budget.acquire(kind_of(request.http_request.method))

    def on_response(self, request: PipelineRequest, response: PipelineResponse) -> None:  # type: ignore[type-arg]
        kind = kind_of(request.http_request.method)
        headers = response.http_response.headers
        self.budget.observe(kind, headers)
        hint = retry_after_from_headers(headers) if response.http_response.status_code == 429 else None
        if hint:  # a 429 without a hint holds nobody else: the gateway backs off that one call
            self.budget.hold(kind, hint)


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
    *,
    budget: ArmBudget | None = None,
    **client_kwargs: Any,
) -> ArmClients:
    """SDK clients for one subscription; with ``budget``, every request is paced by it (``PacingPolicy``)."""
    cred = credential or default_credential()
    if budget is not None:
        client_kwargs["per_call_policies"] = [*client_kwargs.get("per_call_policies", []), PacingPolicy(budget)]
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

    SDK-level retries are off (``retry_total=0``): the gateway retries, so every attempt is counted and logged with
    the run's correlation id. Each subscription's clients share one ``ArmBudget`` (ARM throttles per subscription and
    principal; this cache holds one principal's credential): every thread of this host paces itself on it.
    ``buckets``: (burst, refill per second) per kind, Azure's by default (``pacing.AZURE_BUCKETS``).
    """

    def __init__(self, arm_endpoint: str, credential: TokenCredential,
                 buckets: dict[str, tuple[float, float]] | None = None) -> None:
        self.arm_endpoint = arm_endpoint
        self.credential = credential
        self.buckets = buckets
        self.budgets: dict[str, ArmBudget] = {}
        self._clients: dict[str, ArmClients] = {}
        self._lock = threading.Lock()

    def __call__(self, subscription_id: str) -> ArmClients:
        key = subscription_id.lower()
        with self._lock:
            if key not in self._clients:
                budget = ArmBudget(buckets=self.buckets) if self.buckets else ArmBudget()
                self.budgets[key] = budget
                self._clients[key] = make_clients(subscription_id, self.arm_endpoint, self.credential, budget=budget,
                                                  retry_total=0)
            return self._clients[key]

    def close(self) -> None:
        with self._lock:
            for clients in self._clients.values():
                clients.close()
            self._clients.clear()
