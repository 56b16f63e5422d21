"""The contract between armsim's ARM engine and the resource providers that plug into it.

The engine does what every ARM request shares — authentication, api-version, throttling, ETags, long-running
operations, busy resources, paging, events. A ``Provider`` says what is specific to one resource type: what a valid
body is, what to refuse, what read-only fields to fill in and what happens as a side effect.
"""

from __future__ import annotations

import importlib
import pkgutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from armsim.errors import ArmError

if TYPE_CHECKING:
    from armsim.engine import Engine
    from armsim.ids import ArmPath
    from armsim.store import Record, Store


@dataclass
class Ctx:
    """What a provider may know about the request being served."""

    engine: Engine
    principal: dict[str, Any]
    api_version: str = ""
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_request_id: str = ""
    method: str = ""
    url: str = ""

    @property
    def store(self) -> Store:
        return self.engine.store

    def duration(self, kind: str) -> float:
        """A simulated duration in seconds for ``kind`` (see ``SimConfig.durations``), already time-scaled."""
        return self.engine.config.duration(kind)


@dataclass
class ActionResult:
    """The outcome of a POST action: an immediate body, or a long-running operation completing later."""

    status: int = 200
    # the answer: sent at once, or, for a long-running operation, by the Location poll (operationResults) once done
    body: Any = None
    duration: float = 0.0  # seconds (already scaled); > 0 makes it a long-running operation (202 + Location)
    on_complete: Callable[[], None] | None = None
    busy: bool = True  # whether the resource refuses other writes until the operation completes


class Provider:
    """Base class: a resource type stored as one record per resource, with optional child collections."""

    type: str = ""  # e.g. "Microsoft.Network/loadBalancers"
    etag_style: str | None = "network"  # "network" -> W/"<guid>", "compute" -> "<n>", None -> no etag
    lro_put: bool = True
    lro_delete: bool = True
    put_duration_kind: str = "network.put"
    delete_duration_kind: str = "network.delete"
    requires_location: bool = True
    create_status: int = 201  # status of a PUT that creates the resource (some compute types answer 200)
    # child collections exposed as ARM child endpoints: path segment -> property name under "properties"
    children: dict[str, str] = {}
    # child collections that can be read but not written through child endpoints
    read_only_children: frozenset[str] = frozenset()

    # --- hooks the engine calls -------------------------------------------------------------------------------
    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Validate a PUT body and return what to store (the engine fills id, name, type, etag, provisioningState).

        ``body`` is the client's body; it may carry read-only fields copied from an earlier GET, which must be
        ignored. Raise ``ArmError`` to refuse.
        """
        return body

    def check_delete(self, ctx: Ctx, record: Record) -> None:
        """Raise ``ArmError`` if Azure would refuse to delete this resource."""

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        """Return the resource as ARM answers it: the stored body plus computed read-only fields."""
        return body

    def after_put(self, ctx: Ctx, record: Record, previous: dict[str, Any] | None) -> None:
        """Side effects of a successful PUT (applied immediately)."""

    def on_put_complete(self, ctx: Ctx, record: Record) -> None:
        """Side effects when the PUT's long-running operation completes."""

    def after_delete(self, ctx: Ctx, record: Record) -> None:
        """Side effects of a delete (the record is already gone from the store)."""

    def action(self, ctx: Ctx, record: Record, name: str, body: Any) -> ActionResult:
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The action '{name}' is not supported on resource type '{self.type}'. Check the URL.",
        )

    def child_action(
        self, ctx: Ctx, parent: Record, collection_prop: str, child_name: str, action_name: str, body: Any
    ) -> ActionResult:
        """A POST action on a child of this resource (``.../{type}/{name}/{collection}/{child}/{action}``).

        Children live inside the parent's record (no provider of their own), so their actions are served by the
        parent's provider. ``collection_prop`` is the property under ``properties`` holding the collection. The
        default refuses, the same way :meth:`action` does, so a provider declaring ``children`` gains no action by
        accident.
        """
        raise ArmError(
            404,
            "InvalidResourceType",
            f"The action '{action_name}' is not supported on resource type '{self.type}/{collection_prop}'. "
            f"Check the URL.",
        )

    def patch(self, ctx: Ctx, existing: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Merge a PATCH body into the existing resource (ARM merge-patch semantics for tags/properties)."""
        merged = dict(existing)
        for k, v in body.items():
            if isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = _merge(merged[k], v)
            else:
                merged[k] = v
        return merged

    # --- custom routes ----------------------------------------------------------------------------------------
    def custom_get(self, ctx: Ctx, path: ArmPath) -> Any:
        """Override to serve a GET the generic store lookup cannot (virtual resources). None = not handled."""
        return None


def _merge(base: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in patch.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def strip_keys(value: Any, keys: frozenset[str]) -> Any:
    """A deep copy of ``value`` without the given keys anywhere; used to drop read-only fields clients echo back."""
    if isinstance(value, dict):
        return {k: strip_keys(v, keys) for k, v in value.items() if k not in keys}
    if isinstance(value, list):
        return [strip_keys(v, keys) for v in value]
    return value


# --- the registry: a new resource type is one module with one decorated class ---------------------------------------
_REGISTERED: list[type[Provider]] = []
P = TypeVar("P", bound=type[Provider])


def registered(cls: P) -> P:
    """Class decorator: this provider is installed by its package (``armsim.network``, ``armsim.compute``) with
    :func:`providers_in`, so adding a resource type needs no edit anywhere but its own module. The class must be
    constructible without arguments."""
    _REGISTERED.append(cls)
    return cls


def providers_in(package: str) -> list[Provider]:
    """One instance of every ``@registered`` provider defined in ``package`` or its modules (all imported here)."""
    pkg = importlib.import_module(package)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=f"{package}."):
        importlib.import_module(info.name)
    prefix = f"{package}."
    return [cls() for cls in _REGISTERED if cls.__module__.startswith(prefix)]
