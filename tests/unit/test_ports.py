"""Frontend port allocation."""

from __future__ import annotations

import pytest

from poolkeeper.model import LoadBalancer
from poolkeeper.ports import (
    PortAllocator,
    PortRangeExhausted,
    PortUse,
    allocate_ports,
    lowest_free,
    port_uses,
    taken_ports,
)

from . import builders as B


def _lb(**kw: object) -> LoadBalancer:
    return LoadBalancer.from_arm(B.load_balancer(**kw))  # type: ignore[arg-type]


def test_lowest_free_port_and_batch_distinct() -> None:
    lb = _lb(nat_rules=[B.nat_rule("other", 50001), B.nat_rule("x", 50003)])
    assert allocate_ports(lb, B.FE_ID, "Tcp", (50001, 50010), 3) == (50002, 50004, 50005)
    alloc = PortAllocator()
    got = [alloc.allocate(lb, B.FE_ID, "Tcp", (50001, 50010)) for _ in range(4)]
    assert got == [50002, 50004, 50005, 50006]


def test_taken_counts_all_kinds_of_frontend_use() -> None:
    v2 = B.nat_rule("v2", 0)
    v2["properties"].pop("frontendPort")
    v2["properties"].update(frontendPortRangeStart=60000, frontendPortRangeEnd=60002,
                            backendAddressPool={"id": B.POOL_ID})
    lb = _lb(nat_rules=[B.nat_rule("a", 50001), v2, B.nat_rule("u", 50002, protocol="Udp")],
             nat_pools=[B.nat_pool("np", 61000, 61001)])
    taken = taken_ports(lb, B.FE_ID.upper(), "Tcp")
    assert taken == {50001, 60000, 60001, 60002, 61000, 61001, 80}
    assert taken_ports(lb, B.FE_ID, "Udp") == {50002}
    assert 50001 in taken_ports(lb, B.FE_ID, "All") and 50002 in taken_ports(lb, B.FE_ID, "All")
    assert taken_ports(lb, B.FE_ID, "Tcp", exclude_rules=["A"]) == taken - {50001}
    assert taken_ports(lb, B.FE_ID + "x", "Tcp") == set()


def test_port_uses_name_what_occupies_the_ports() -> None:
    """The occupants behind ``taken_ports``, by name, so a refusal can say which rule holds a port."""
    lb = _lb(nat_rules=[B.nat_rule("a", 50001), B.nat_rule("u", 50002, protocol="Udp")],
             nat_pools=[B.nat_pool("np", 61000, 61001)])
    assert port_uses(lb, B.FE_ID, "Tcp") == [
        PortUse("inboundNatRules", "a", range(50001, 50002)), PortUse("inboundNatPools", "np", range(61000, 61002)),
        PortUse("loadBalancingRules", "myLoadBalancerRule", range(80, 81))]


def test_ha_ports_rule_takes_everything() -> None:
    raw = B.load_balancer()
    raw["properties"]["loadBalancingRules"][0]["properties"].update(frontendPort=0, backendPort=0, protocol="All")
    lb = LoadBalancer.from_arm(raw)
    with pytest.raises(PortRangeExhausted):
        allocate_ports(lb, B.FE_ID, "Tcp", (1, 10), 1)


def test_exhausted_message_is_actionable() -> None:
    lb = _lb(nat_rules=[B.nat_rule("a", 50001), B.nat_rule("b", 50002)])
    with pytest.raises(PortRangeExhausted) as exc:
        allocate_ports(lb, B.FE_ID, "Tcp", (50001, 50002), 1)
    msg = str(exc.value)
    for words in ("myLoadBalancer", "myFrontEndPool", "Tcp", "50001-50002", "widen natRule.frontendPortRange"):
        assert words in msg
    assert exc.value.port_range == (50001, 50002)


def test_reservations_respect_protocol_overlap() -> None:
    lb = _lb(lb_rules=False)
    alloc = PortAllocator()
    alloc.reserve(lb.id, B.FE_ID, "Tcp", [1])
    assert alloc.allocate(lb, B.FE_ID, "Udp", (1, 5)) == 1
    assert alloc.allocate(lb, B.FE_ID, "All", (1, 5)) == 2
    assert alloc.allocate(lb, B.FE_ID, "Tcp", (1, 5)) == 3
    assert lowest_free({1, 2}, (1, 2)) is None


def test_freed_rules_give_their_ports_back() -> None:
    lb = _lb(nat_rules=[B.nat_rule("pk-gone-22", 50001)])
    alloc = PortAllocator()
    assert alloc.allocate(lb, B.FE_ID, "Tcp", (50001, 50002)) == 50002
    alloc.free_rule(lb.id.upper(), "PK-GONE-22")
    assert alloc.allocate(lb, B.FE_ID, "Tcp", (50001, 50002)) == 50001
