"""Parsing of ARM resource paths. ARM treats ids case-insensitively but answers with the stored casing."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ArmPath:
    """A parsed ARM URL path.

    ``types`` and ``names`` are the resource type segments below the provider namespace, e.g. for
    ``.../providers/Microsoft.Network/loadBalancers/lb1/backendAddressPools/p1``: types ``(loadBalancers,
    backendAddressPools)``, names ``(lb1, p1)``. A collection path (a list) has one more type than names.
    """

    subscription: str
    resource_group: str | None
    namespace: str | None
    types: tuple[str, ...]
    names: tuple[str, ...]
    action: str | None = None

    @property
    def is_collection(self) -> bool:
        return len(self.types) == len(self.names) + 1

    @property
    def full_type(self) -> str:
        return f"{self.namespace}/{'/'.join(self.types)}"

    @property
    def type_key(self) -> str:
        return self.full_type.lower()

    def resource_id(self, depth: int | None = None) -> str:
        depth = len(self.names) if depth is None else depth
        out = f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/{self.namespace}"
        for t, n in zip(self.types[:depth], self.names[:depth], strict=True):
            out += f"/{t}/{n}"
        return out


def key(resource_id: str) -> str:
    """The canonical dictionary key of a resource id: lower case, no trailing slash."""
    return resource_id.rstrip("/").lower()


def parse(path: str) -> ArmPath | None:
    """Parse a resource or collection path below ``/subscriptions/{id}``; None if it is not one."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 2 or parts[0].lower() != "subscriptions":
        return None
    sub = parts[1]
    rest = parts[2:]
    rg: str | None = None
    if len(rest) >= 2 and rest[0].lower() == "resourcegroups":
        rg = rest[1]
        rest = rest[2:]
    if len(rest) < 2 or rest[0].lower() != "providers":
        return None
    namespace = rest[1]
    segs = rest[2:]
    if not segs:
        return None
    types = tuple(segs[0::2])
    names = tuple(segs[1::2])
    return ArmPath(sub, rg, namespace, types, names)


def parent_id(resource_id: str) -> str:
    """The id of a child resource's parent (two path segments up)."""
    return "/".join(resource_id.rstrip("/").split("/")[:-2])


def name_of(resource_id: str) -> str:
    return resource_id.rstrip("/").split("/")[-1]


def resource_group_of(resource_id: str) -> str | None:
    parts = resource_id.split("/")
    for i, p in enumerate(parts):
        if p.lower() == "resourcegroups" and i + 1 < len(parts):
            return parts[i + 1]
    return None


def subscription_of(resource_id: str) -> str | None:
    parts = resource_id.split("/")
    for i, p in enumerate(parts):
        if p.lower() == "subscriptions" and i + 1 < len(parts):
            return parts[i + 1]
    return None


def is_resource_id(value: object) -> bool:
    return isinstance(value, str) and value.lower().startswith("/subscriptions/")
