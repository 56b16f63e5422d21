"""Azure Resource Manager resource ids.

ARM treats ids case-insensitively (``/resourceGroups/RG1`` and ``/resourcegroups/rg1`` are the same group), and
different ARM responses really do spell the same id differently (event subjects, back-references, the casing a user
typed into a template). Every comparison in poolkeeper therefore goes through :attr:`ResourceId.key` or
:func:`same_id`; a raw string ``==`` on ids is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# The format of a workflow operation id (workflows.intents.new_operation_id: uuid4().hex[:12]). Here, not in the
# workflows package, so the HTTP edge's schemas can name it without loading the workflows (and the SDKs) at indexing.
OPERATION_ID_PATTERN = r"^[0-9a-f]{12}$"

_EXAMPLE = (
    "/subscriptions/<subscription-id>/resourceGroups/<group>/providers/Microsoft.Network/loadBalancers/<name>"
)


def id_key(resource_id: str) -> str:
    """The canonical dictionary key for an id string: lower case, no trailing slash.

    Cheaper than parsing, for ids that came from ARM itself (already well formed).
    """
    return resource_id.strip().rstrip("/").lower()


@dataclass(frozen=True, eq=False)
class ResourceId:
    """A parsed ARM resource id.

    ``types``/``names`` hold the resource type segments below the provider namespace, outermost first, e.g. for
    ``.../providers/Microsoft.Network/loadBalancers/lb/backendAddressPools/p`` ``types == ("loadBalancers",
    "backendAddressPools")`` and ``names == ("lb", "p")``. A subscription or resource-group id (used as a scope)
    has no namespace and empty ``types``.

    Equality and hashing use :attr:`key`, so ids differing only in case are equal.
    """

    subscription: str
    resource_group: str | None = None
    namespace: str | None = None
    types: tuple[str, ...] = ()
    names: tuple[str, ...] = ()

    # -- construction -------------------------------------------------------------------------------------------
    @classmethod
    def parse(cls, value: str) -> ResourceId:
        """Parse an id string, raising ``ValueError`` that names the bad id and shows a valid one."""
        if not isinstance(value, str):
            raise ValueError(f"resource id must be a string, got {type(value).__name__}; expected e.g. {_EXAMPLE}")
        text = value.strip().rstrip("/")
        if not text.startswith("/"):
            raise ValueError(f"invalid resource id {value!r}: it must start with '/subscriptions/'; "
                             f"expected e.g. {_EXAMPLE}")
        parts = text[1:].split("/")
        if any(p == "" for p in parts):
            raise ValueError(f"invalid resource id {value!r}: it has an empty segment ('//'); expected e.g. {_EXAMPLE}")
        if len(parts) < 2 or parts[0].lower() != "subscriptions":
            raise ValueError(f"invalid resource id {value!r}: it must start with '/subscriptions/<id>'; "
                             f"expected e.g. {_EXAMPLE}")
        subscription = parts[1]
        rest = parts[2:]
        resource_group: str | None = None
        if rest:
            if rest[0].lower() != "resourcegroups" or len(rest) < 2:
                raise ValueError(f"invalid resource id {value!r}: expected '/resourceGroups/<group>' after the "
                                 f"subscription; expected e.g. {_EXAMPLE}")
            resource_group = rest[1]
            rest = rest[2:]
        if not rest:
            return cls(subscription, resource_group)
        if rest[0].lower() != "providers" or len(rest) < 4:
            raise ValueError(f"invalid resource id {value!r}: expected '/providers/<Namespace>/<type>/<name>' after "
                             f"the resource group; expected e.g. {_EXAMPLE}")
        namespace = rest[1]
        pairs = rest[2:]
        if len(pairs) % 2:
            raise ValueError(f"invalid resource id {value!r}: resource type '{pairs[-1]}' has no name after it; "
                             f"types and names must alternate, e.g. {_EXAMPLE}")
        if any(p.lower() == "providers" for p in pairs[::2]):
            raise ValueError(f"invalid resource id {value!r}: extension resources (a second '/providers/') are not "
                             f"supported; expected e.g. {_EXAMPLE}")
        return cls(subscription, resource_group, namespace, tuple(pairs[::2]), tuple(pairs[1::2]))

    # -- views ---------------------------------------------------------------------------------------------------
    def __str__(self) -> str:
        out = f"/subscriptions/{self.subscription}"
        if self.resource_group is not None:
            out += f"/resourceGroups/{self.resource_group}"
        if self.namespace is not None:
            out += f"/providers/{self.namespace}"
            for t, n in zip(self.types, self.names, strict=True):
                out += f"/{t}/{n}"
        return out

    def __repr__(self) -> str:
        return f"ResourceId({str(self)!r})"

    @property
    def key(self) -> str:
        """Lower-cased canonical string: use it for dict keys and comparisons."""
        return str(self).lower()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, ResourceId):
            return self.key == other.key
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.key)

    @property
    def name(self) -> str:
        """The last name: resource name, else resource-group name, else subscription id."""
        if self.names:
            return self.names[-1]
        if self.resource_group is not None:
            return self.resource_group
        return self.subscription

    @property
    def type(self) -> str:
        """Full resource type, e.g. ``Microsoft.Network/loadBalancers/backendAddressPools`` (scopes: '')."""
        if self.namespace is None:
            if self.resource_group is not None:
                return "Microsoft.Resources/resourceGroups"
            return "Microsoft.Resources/subscriptions"
        return "/".join((self.namespace, *self.types))

    def is_type(self, full_type: str) -> bool:
        """Case-insensitive type check (``Microsoft.Network/loadBalancers``)."""
        return self.type.lower() == full_type.lower()

    @property
    def is_scope(self) -> bool:
        """True for a subscription or resource-group id (what ``scopes`` accepts)."""
        return self.namespace is None

    @property
    def parent(self) -> ResourceId | None:
        """The enclosing resource: child → parent resource → resource group → subscription → None."""
        if len(self.types) > 1:
            return ResourceId(self.subscription, self.resource_group, self.namespace, self.types[:-1], self.names[:-1])
        if self.types:
            return ResourceId(self.subscription, self.resource_group)
        if self.resource_group is not None:
            return ResourceId(self.subscription)
        return None

    @property
    def top(self) -> ResourceId:
        """The top-level resource this id belongs to (the load balancer of a pool id, the scale set of an instance)."""
        if len(self.types) > 1:
            return ResourceId(self.subscription, self.resource_group, self.namespace, self.types[:1], self.names[:1])
        return self

    def child(self, type_: str, name: str) -> ResourceId:
        """The id of a child resource, e.g. ``lb.child("backendAddressPools", "pool")``."""
        if self.namespace is None:
            raise ValueError(f"{self} is a scope, not a resource; it has no child resources")
        if not type_ or "/" in type_ or not name or "/" in name:
            raise ValueError(f"child type and name must be single non-empty segments, got {type_!r}/{name!r}")
        return ResourceId(self.subscription, self.resource_group, self.namespace, (*self.types, type_),
                          (*self.names, name))

    def ancestor_of_type(self, full_type: str) -> ResourceId | None:
        """This id or the nearest enclosing id of the given full type (case-insensitive), else None."""
        current: ResourceId | None = self
        while current is not None:
            if current.is_type(full_type):
                return current
            current = current.parent
        return None


def parse_id(value: str) -> ResourceId:
    """Shorthand for :meth:`ResourceId.parse`."""
    return ResourceId.parse(value)


def same_id(a: str | ResourceId | None, b: str | ResourceId | None) -> bool:
    """Case-insensitive id equality; None equals only None."""
    if a is None or b is None:
        return a is None and b is None
    ka = a.key if isinstance(a, ResourceId) else id_key(a)
    kb = b.key if isinstance(b, ResourceId) else id_key(b)
    return ka == kb


def _segments(value: str | ResourceId) -> list[str]:
    text = value.key if isinstance(value, ResourceId) else id_key(value)
    return [s for s in text.split("/") if s]


def in_scope(resource_id: str | ResourceId, scopes: Iterable[str | ResourceId]) -> bool:
    """Whether the id lies under one of the scopes (subscription or resource-group ids).

    Prefix match on whole segments, so ``/subscriptions/a/resourceGroups/rg1`` does not contain
    ``/subscriptions/a/resourceGroups/rg10/...``.
    """
    segs = _segments(resource_id)
    for scope in scopes:
        scope_segs = _segments(scope)
        if scope_segs and segs[: len(scope_segs)] == scope_segs:
            return True
    return False


def parent_key(resource_id: str) -> str:
    """Lower-cased id of the parent (drops the last type/name pair); '' when there is none."""
    segs = id_key(resource_id).split("/")
    if len(segs) < 3:
        return ""
    return "/".join(segs[:-2])


def vnet_of_subnet(subnet_id: str | None) -> str | None:
    """The lower-cased virtual-network id of a subnet id (``.../virtualNetworks/v/subnets/s``)."""
    if not subnet_id:
        return None
    segs = id_key(subnet_id).split("/")
    if len(segs) >= 4 and segs[-2] == "subnets":
        return "/".join(segs[:-2])
    return None


def scale_set_of(resource_id: str | None) -> str | None:
    """Lower-cased scale-set id if the id is a scale set or lies below one (instance, instance NIC, ip config)."""
    if not resource_id:
        return None
    segs = id_key(resource_id).split("/")
    try:
        i = segs.index("virtualmachinescalesets")
    except ValueError:
        return None
    if i + 1 >= len(segs) or i < 2 or segs[i - 1] != "microsoft.compute":
        return None
    return "/".join(segs[: i + 2])
