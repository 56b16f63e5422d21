"""The engine's state and its registry of resource providers, which every concern of the engine shares."""

from __future__ import annotations

import copy
import itertools
from collections import Counter
from collections.abc import Callable
from typing import Any

from armsim.arm.values import Operation, Response
from armsim.config import SimConfig
from armsim.faults import Faults
from armsim.provider import Ctx, Provider
from armsim.store import Record, Store
from armsim.throttle import Throttle

SYSTEM_PRINCIPAL: dict[str, Any] = {"oid": "00000000-0000-0000-0000-000000000000", "appid": "armsim", "name": "armsim"}


class EngineCore:
    """State and registry; the request semantics are in the mixins of this package."""

    def __init__(self, config: SimConfig, subscription_id: str, tenant_id: str) -> None:
        self.config = config
        self.subscription_id = subscription_id
        self.tenant_id = tenant_id
        self.store = Store()
        self.throttle = Throttle(config)
        self.faults = Faults()
        self.providers: dict[str, Provider] = {}
        self.base_url = "https://127.0.0.1/"
        self.ops: dict[str, Operation] = {}
        self._due: list[tuple[float, int, str]] = []
        self._seq = itertools.count()
        self.request_log: list[dict[str, Any]] = []
        self.counters: Counter[str] = Counter()
        self.event_listeners: list[Callable[[dict[str, Any]], None]] = []
        self.token_verifier: Callable[[str], dict[str, Any] | None] = lambda token: None
        self.on_change: Callable[[], None] = lambda: None
        self._fail_next_op = False  # set by a "fail-async" fault: the next operation fails
        self.locations_of_subscription = ["westus", "eastus", "westeurope"]
        # called with (method, path, response) after every ARM request; providers add headers of their own here
        self.response_hooks: list[Callable[[str, str, Response], None]] = []
        # routes served by plugins before the generic resource routing (e.g. armsim.resources: deployments and the
        # resource listing); each returns None when the path is not its own
        self.routes: list[Callable[[Ctx, str, list[str], dict[str, str], dict[str, str], bytes], Response | None]] = []

    def register(self, provider: Provider) -> None:
        self.providers[provider.type.lower()] = provider

    def provider_for(self, full_type: str) -> Provider | None:
        return self.providers.get(full_type.lower())

    def render(self, ctx: Ctx, rec: Record) -> dict[str, Any]:
        provider = self.provider_for(rec.type)
        body = copy.deepcopy(rec.body)
        return provider.render(ctx, body) if provider else body

    def rg_id(self, name: str) -> str:
        return f"/subscriptions/{self.subscription_id}/resourceGroups/{name}"

    def resource_group(self, name: str) -> Record | None:
        return self.store.get(self.rg_id(name))
