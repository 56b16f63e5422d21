"""Which resources a workflow may read or write: the configured ``scopes``, and the load balancer's subscription.

Why a guard of its own: a NAT-pool workflow starts from one load balancer but reaches further — the scale sets that
use its NAT pool (found in the rules Azure derives from the pool, which name each instance's scale set), scale sets
named in the request, the frontend's public IP. Any of those may sit in a resource group or subscription poolkeeper
was never given. Every id is checked here *before* it is read or written, so a refusal costs no ARM request at all.

The gateway of a run is bound to the load balancer's subscription (its SDK clients carry the subscription id and
address resources by group and name), so a resource in another subscription would silently be read in the wrong one:
that is refused too, in scope or not.
"""

from __future__ import annotations

from collections.abc import Iterable

from poolkeeper.ids import ResourceId, in_scope


class OutOfScope(Exception):
    """A resource the operation would read or write lies outside poolkeeper's scopes. Nothing was read or changed."""


class ScopeGuard:
    """Answers, for a resource id, why a run bound to ``subscription`` must not touch it (or None: it may).

    ``scopes`` None means unrestricted (tests and the demo build their own estate); the subscription rule holds
    always.
    """

    def __init__(self, scopes: Iterable[str] | None, subscription: str) -> None:
        self.scopes = tuple(scopes) if scopes is not None else None
        self.subscription = subscription

    def why_not(self, resource_id: str, what: str) -> str | None:
        try:
            rid = ResourceId.parse(resource_id)
        except ValueError as err:
            return f"{what} {resource_id!r} is not a resource id ({err})"
        if self.scopes is not None and not in_scope(rid, self.scopes):
            return (f"{what} {rid} is outside poolkeeper's scopes ({', '.join(self.scopes)}); poolkeeper does not "
                    "read or change it. Add its resource group to scopes, or change it yourself")
        if rid.subscription.lower() != self.subscription.lower():
            return (f"{what} {rid} is in subscription {rid.subscription}, not the load balancer's "
                    f"({self.subscription}); a workflow acts in the load balancer's subscription only")
        return None

    def check(self, resource_id: str, what: str) -> None:
        """Raise :class:`OutOfScope` if the resource may not be touched."""
        why = self.why_not(resource_id, what)
        if why is not None:
            raise OutOfScope(why)
