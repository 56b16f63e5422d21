"""Frontend port allocation for per-VM inbound NAT rules.

Azure refuses two uses of the same frontend port on one frontend IP configuration and protocol, whether the other
use is a NAT rule (V1 single port or V2 range), a NAT pool's range or a load-balancing rule. So "taken" is the union
of all of them, and the lowest free port in the binding's range is chosen. Allocation is deterministic (lowest
free), and existing rules are never renumbered: the planner reuses a VM's existing rule and only asks for ports for
new rules. A :class:`PortAllocator` remembers what it handed out within one plan, so a batch gets distinct ports.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from poolkeeper.ids import id_key
from poolkeeper.model import LoadBalancer

ALL_PORTS = range(1, 65536)


class PortRangeExhausted(Exception):
    """No free frontend port left in the binding's range."""

    def __init__(self, lb_id: str, frontend_id: str, protocol: str, port_range: tuple[int, int]) -> None:
        self.lb_id = lb_id
        self.frontend_id = frontend_id
        self.protocol = protocol
        self.port_range = port_range
        lb_name = lb_id.rstrip("/").rsplit("/", 1)[-1]
        frontend_name = frontend_id.rstrip("/").rsplit("/", 1)[-1]
        super().__init__(
            f"no free {protocol} frontend port on load balancer {lb_name} frontend {frontend_name}: every port of "
            f"{port_range[0]}-{port_range[1]} is taken by NAT rules, NAT pools or load-balancing rules; widen "
            f"natRule.frontendPortRange in the binding (load balancer id {lb_id})")


def protocols_overlap(a: str, b: str) -> bool:
    """``All`` covers both Tcp and Udp, so it collides with either."""
    a, b = a.lower(), b.lower()
    return a == b or a == "all" or b == "all"


@dataclass(frozen=True)
class PortUse:
    """One thing that occupies frontend ports: a NAT rule (V1 port or V2 range), a NAT pool's range, or a
    load-balancing rule (frontend port 0, HA ports, occupies every port)."""

    kind: str  # "inboundNatRules" | "inboundNatPools" | "loadBalancingRules" (the ARM collection)
    name: str
    ports: range


def port_uses(lb: LoadBalancer, frontend_id: str, protocol: str, *, exclude_rules: Iterable[str] = ()
              ) -> list[PortUse]:
    """Everything on this frontend that occupies ports for an overlapping protocol: the one port-occupancy rule.

    ``exclude_rules`` (NAT rule names) leaves rules out: a rule being replaced may keep its own port, and a rule
    being deleted in the same load-balancer write frees its port.
    """
    fe = id_key(frontend_id)
    excluded = {r.lower() for r in exclude_rules}

    def here(item_frontend: str | None, item_protocol: str) -> bool:
        return bool(item_frontend) and id_key(item_frontend or "") == fe and protocols_overlap(item_protocol,
                                                                                                protocol)

    uses = [PortUse("inboundNatRules", r.name, r.frontend_ports()) for r in lb.inbound_nat_rules
            if r.name.lower() not in excluded and here(r.frontend_ip_configuration_id, r.protocol)]
    uses += [PortUse("inboundNatPools", p.name, p.frontend_ports()) for p in lb.inbound_nat_pools
             if here(p.frontend_ip_configuration_id, p.protocol)]
    uses += [PortUse("loadBalancingRules", r.name,
                     ALL_PORTS if r.frontend_port == 0 else range(r.frontend_port, r.frontend_port + 1))
             for r in lb.load_balancing_rules
             if r.frontend_port is not None and here(r.frontend_ip_configuration_id, r.protocol)]
    return uses


def taken_ports(lb: LoadBalancer, frontend_id: str, protocol: str, *, exclude_rules: Iterable[str] = ()
                ) -> set[int]:
    """Every frontend port in use on this frontend for an overlapping protocol (the union of :func:`port_uses`)."""
    taken: set[int] = set()
    for use in port_uses(lb, frontend_id, protocol, exclude_rules=exclude_rules):
        taken.update(use.ports)
    return taken


def lowest_free(taken: Iterable[int], port_range: tuple[int, int]) -> int | None:
    """The lowest port of the inclusive range not in ``taken``."""
    used = set(taken)
    for port in range(port_range[0], port_range[1] + 1):
        if port not in used:
            return port
    return None


def allocate_ports(lb: LoadBalancer, frontend_id: str, protocol: str, port_range: tuple[int, int], count: int,
                   *, reserved: Iterable[int] = ()) -> tuple[int, ...]:
    """``count`` distinct free ports, lowest first. Raises :class:`PortRangeExhausted` if there are not enough."""
    used = taken_ports(lb, frontend_id, protocol) | set(reserved)
    out: list[int] = []
    for port in range(port_range[0], port_range[1] + 1):
        if len(out) == count:
            break
        if port not in used:
            out.append(port)
    if len(out) < count:
        raise PortRangeExhausted(lb.id, frontend_id, protocol, port_range)
    return tuple(out)


class PortAllocator:
    """Hands out ports across one planning run, remembering what it has already given or reserved.

    Reservations are keyed by (load balancer, frontend, protocol) and checked with protocol overlap, so a port
    given for Tcp is not given again for All on the same frontend.
    """

    def __init__(self) -> None:
        self._reserved: dict[tuple[str, str], list[tuple[str, set[int]]]] = {}
        self._freed: dict[str, set[str]] = {}
        # (lb, frontend, protocol, range) -> [taken ports, next candidate]: within one run the taken set only grows,
        # so the lowest free port never moves down and allocating N ports is linear, not quadratic.
        self._cursors: dict[tuple[str, str, str, tuple[int, int]], list[Any]] = {}

    def free_rule(self, lb_id: str, rule_name: str) -> None:
        """The plan deletes this rule (in the same load-balancer write), so its ports may be handed out again."""
        self._freed.setdefault(id_key(lb_id), set()).add(rule_name.lower())
        lb_key = id_key(lb_id)
        for key in [k for k in self._cursors if k[0] == lb_key]:
            del self._cursors[key]

    def _extra(self, lb_id: str, frontend_id: str, protocol: str) -> set[int]:
        out: set[int] = set()
        for proto, ports in self._reserved.get((id_key(lb_id), id_key(frontend_id)), []):
            if protocols_overlap(proto, protocol):
                out |= ports
        return out

    def reserve(self, lb_id: str, frontend_id: str, protocol: str, ports: Iterable[int]) -> None:
        """Mark ports as used by something this plan creates (a new rule or V2 range)."""
        self._reserved.setdefault((id_key(lb_id), id_key(frontend_id)), []).append((protocol, set(ports)))
        self._forget_cursors(lb_id, frontend_id)

    def _forget_cursors(self, lb_id: str, frontend_id: str) -> None:
        lb_key, fe_key = id_key(lb_id), id_key(frontend_id)
        for key in [k for k in self._cursors if k[0] == lb_key and k[1] == fe_key]:
            del self._cursors[key]

    def taken(self, lb: LoadBalancer, frontend_id: str, protocol: str, *, exclude_rules: Iterable[str] = ()
              ) -> set[int]:
        """Ports in use on the load balancer (minus freed rules) plus those reserved earlier in this plan."""
        excluded = {*exclude_rules, *self._freed.get(lb.key, set())}
        return taken_ports(lb, frontend_id, protocol, exclude_rules=excluded) | self._extra(lb.id, frontend_id,
                                                                                             protocol)

    def allocate(self, lb: LoadBalancer, frontend_id: str, protocol: str, port_range: tuple[int, int]) -> int:
        """The lowest free port in range, now reserved. Raises :class:`PortRangeExhausted`."""
        key = (lb.key, id_key(frontend_id), protocol.lower(), port_range)
        state = self._cursors.get(key)
        if state is None:
            state = [self.taken(lb, frontend_id, protocol), port_range[0]]
        taken, port = state
        while port <= port_range[1] and port in taken:
            port += 1
        if port > port_range[1]:
            raise PortRangeExhausted(lb.id, frontend_id, protocol, port_range)
        self.reserve(lb.id, frontend_id, protocol, [port])  # forgets cursors of this frontend; restore ours below
        taken.add(port)
        self._cursors[key] = [taken, port + 1]
        return port
