"""What an operation was asked to do, parsed strictly, and how it is recorded in Azure as a tag.

The intent is recorded on the load balancer itself (tag ``poolkeeper.operation``) by a load-balancer PUT under
If-Match before the first change, so that whoever runs next — the timer, the CLI, another instance of the app after a
redeploy — finds the unfinished operation in Azure and finishes it, even if the local operation store is gone. The
tag value is compact JSON ``{"id","kind","params"}`` and must fit Azure's 256-character tag-value limit, so the
parameters are the resolved, minimal ones (names relative to the load balancer's resource group).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from poolkeeper.changes import INTENT_TAG
from poolkeeper.config import DEFAULT_UPGRADE_BATCH_SIZE
from poolkeeper.ids import ResourceId

TAG_VALUE_LIMIT = 256
BACKEND_POOL_CHOICES = ("reuse-matching", "create")
VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
PIP_TYPE = "Microsoft.Network/publicIPAddresses"
_JSON_TYPES: dict[str, type] = {"string": str, "integer": int, "boolean": bool, "array": list, "object": dict}


def kinds() -> tuple[str, ...]:
    """The workflows' names (``poolkeeper.workflows.registry.KINDS``)."""
    from poolkeeper.workflows.registry import KINDS

    return KINDS


def _fields(kind: str) -> tuple[dict[str, type], tuple[str, ...]]:
    """Each accepted field's Python type and the required fields, from the workflow's registered JSON schema."""
    from poolkeeper.workflows.registry import get

    schema = get(kind).schema
    fields = {k: _JSON_TYPES[v["type"]] for k, v in schema["properties"].items()}
    return fields, tuple(schema.get("required") or ())


class BadRequest(ValueError):
    """The request itself is wrong (missing or mistyped field). Nothing was read or changed."""


@dataclass
class Intent:
    """One operation: its id, kind, the load balancer it works on, and its parameters (JSON-able, resolved)."""

    id: str
    kind: str
    load_balancer: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def subscription(self) -> str:
        return ResourceId.parse(self.load_balancer).subscription

    @property
    def batch_size(self) -> int:
        return int(self.params.get("batchSize") or DEFAULT_UPGRADE_BATCH_SIZE)

    @property
    def allow_rolling(self) -> bool:
        return bool(self.params.get("allowRolling"))

    def scale_set_ids(self) -> list[str]:
        from poolkeeper.armjson import expand_ref

        return [expand_ref(s, self.load_balancer, VMSS_TYPE) for s in self.params.get("scaleSets") or []]

    # ------------------------------------------------------------------------------------------------ tag
    def tag_value(self) -> str:
        """The compact JSON recorded on the load balancer. Raises BadRequest if it cannot fit in a tag."""
        compact = {k: v for k, v in self.params.items() if v not in (None, False, [], "")}
        if compact.get("batchSize") == DEFAULT_UPGRADE_BATCH_SIZE:
            compact.pop("batchSize")
        value = json.dumps({"id": self.id, "kind": self.kind, "params": compact}, separators=(",", ":"))
        if len(value) > TAG_VALUE_LIMIT:
            raise BadRequest(
                f"the operation's intent record would be {len(value)} characters, over Azure's {TAG_VALUE_LIMIT}-"
                f"character tag limit: {value}. Use scale sets in the load balancer's resource group (recorded by "
                "name) or fewer of them; nothing was changed"
            )
        return value

    @classmethod
    def from_tag(cls, load_balancer: str, value: str) -> Intent:
        """Parse a recorded intent. Raises ValueError naming the load balancer if the tag is not ours."""
        try:
            data = json.loads(value)
            kind = data["kind"]
            if kind not in kinds() or not isinstance(data.get("params", {}), dict):
                raise ValueError(kind)
            return cls(str(data["id"]), kind, load_balancer, dict(data.get("params") or {}))
        except (ValueError, KeyError, TypeError) as err:
            raise ValueError(
                f"the tag {INTENT_TAG!r} on {load_balancer} is not a poolkeeper intent record ({value!r}); remove "
                "the tag or fix it"
            ) from err

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "loadBalancer": self.load_balancer, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Intent:
        return cls(data["id"], data["kind"], data["loadBalancer"], dict(data.get("params") or {}))


def new_operation_id() -> str:
    return uuid.uuid4().hex[:12]


def parse_request(kind: str, body: Any) -> Intent:
    """Validate a request body (HTTP JSON or CLI arguments) into an Intent, naming every bad field.

    The load balancer is the tagged resource, so it is kept out of ``params``; scale sets are recorded by name when
    they are in the load balancer's resource group. Resolution against Azure (which backend pool, which probe) happens
    later, in each workflow's ``resolve`` (:mod:`poolkeeper.workflows.registry`).
    """
    if kind not in kinds():
        raise BadRequest(f"unknown operation kind {kind!r}; choose one of {', '.join(kinds())}")
    fields, required = _fields(kind)
    if not isinstance(body, dict):
        raise BadRequest(f"the request must be a JSON object with {', '.join(required)}")
    errors = [f"unknown field {k!r} (accepted: {', '.join(fields)})" for k in body if k not in fields]
    errors += [f"missing required field {k!r}" for k in required if body.get(k) in (None, "")]
    for k, expected in fields.items():
        v = body.get(k)
        if v is None:
            continue
        if expected is int and (isinstance(v, bool) or not isinstance(v, int)):
            errors.append(f"{k} must be an integer, got {v!r}")
        elif not isinstance(v, expected):
            errors.append(f"{k} must be a {getattr(expected, '__name__', expected)}, got {type(v).__name__} {v!r}")
    lb_id = body.get("loadBalancer")
    if isinstance(lb_id, str) and lb_id:
        try:
            rid = ResourceId.parse(lb_id)
            if not rid.is_type("Microsoft.Network/loadBalancers"):
                errors.append(f"loadBalancer must be a load balancer id (…/providers/Microsoft.Network/loadBalancers/"
                              f"<name>), got {lb_id!r}")
        except ValueError as err:
            errors.append(f"loadBalancer: {err}")
    if isinstance(body.get("batchSize"), int) and not 1 <= body["batchSize"] <= 1000:
        errors.append(f"batchSize must be between 1 and 1000 instances, got {body['batchSize']}")
    if isinstance(body.get("newBackendPort"), int) and not 1 <= body["newBackendPort"] <= 65535:
        errors.append(f"newBackendPort must be a port between 1 and 65535, got {body['newBackendPort']}")
    scale_sets = body.get("scaleSets")
    if isinstance(scale_sets, list):
        for i, s in enumerate(scale_sets):
            if not isinstance(s, str) or not s:
                errors.append(f"scaleSets[{i}] must be a scale-set name or id, got {s!r}")
            elif s.startswith("/"):
                try:
                    if not ResourceId.parse(s).is_type(VMSS_TYPE):
                        errors.append(f"scaleSets[{i}] is not a scale-set id: {s!r}")
                except ValueError as err:
                    errors.append(f"scaleSets[{i}]: {err}")
    if kind == "remove-natpool" and body.get("deletePublicIp") and not body.get("deleteFrontend"):
        errors.append("deletePublicIp needs deleteFrontend: a public IP cannot be deleted while a frontend uses it")
    if errors:
        raise BadRequest(f"invalid {kind} request: " + "; ".join(errors) + "; nothing was changed")
    assert isinstance(lb_id, str)  # validated above
    from poolkeeper.armjson import short_ref

    params = {k: v for k, v in body.items() if k != "loadBalancer"}
    if scale_sets:
        params["scaleSets"] = [short_ref(s, lb_id) if s.startswith("/") else s for s in scale_sets]
    return Intent(new_operation_id(), kind, str(ResourceId.parse(lb_id)), params)
