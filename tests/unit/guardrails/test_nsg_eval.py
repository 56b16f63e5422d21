"""The pure NSG evaluator: priority order, service tags, 168.63.129.16, port ranges, '*', prefix lists, both levels."""

from __future__ import annotations

from typing import Any

from poolkeeper.guardrails.nsg_eval import Traffic, evaluate, evaluate_path, port_matches
from poolkeeper.model import NetworkSecurityGroup
from tests.unit.guardrails.estate import nsg, rule


def group(*rules: dict[str, Any]) -> NetworkSecurityGroup:
    return NetworkSecurityGroup.from_arm(nsg(*rules))


def test_port_forms() -> None:
    assert port_matches(["*"], 22) and port_matches(["22"], 22) and port_matches(["20-30"], 22)
    assert port_matches(["80", "1000-2000"], 1500) and not port_matches(["80", "1000-2000"], 22)
    assert not port_matches([], 22) and not port_matches(["junk"], 22)


def test_defaults_allow_the_probe_and_deny_the_internet() -> None:
    g = group()
    probe = evaluate(g, Traffic.probe(80))
    assert probe.allowed and probe.rule is not None and probe.rule.name == "AllowAzureLoadBalancerInBound"
    net = evaluate(g, Traffic.internet(22))
    assert not net.allowed and net.rule is not None and net.rule.name == "DenyAllInBound"


def test_lowest_priority_number_wins() -> None:
    g = group(rule("allow", 200, port="22", source="*"), rule("deny", 100, port="22", source="*", access="Deny"))
    assert not evaluate(g, Traffic.internet(22)).allowed
    g = group(rule("allow", 100, port="22", source="*"), rule("deny", 200, port="22", source="*", access="Deny"))
    assert evaluate(g, Traffic.internet(22)).allowed


def test_probe_matched_by_tag_by_address_and_by_prefix_list() -> None:
    for src in ("AzureLoadBalancer", "168.63.129.16", "168.63.129.16/32", "168.63.0.0/16", "*"):
        g = group(rule("deny", 100, port="80", source=src, access="Deny"))
        assert not evaluate(g, Traffic.probe(80)).allowed, src
    g = group(rule("deny", 100, port="80", source="", access="Deny",
                   sourceAddressPrefixes=["10.0.0.0/8", "168.63.129.16"]))
    assert not evaluate(g, Traffic.probe(80)).allowed
    for src in ("Internet", "VirtualNetwork", "10.0.0.0/8"):
        g = group(rule("deny", 100, port="80", source=src, access="Deny"))
        assert evaluate(g, Traffic.probe(80)).allowed, src


def test_internet_wide_sources_only() -> None:
    for src in ("*", "Internet", "0.0.0.0/0", "Any"):
        assert evaluate(group(rule("r", 100, port="22", source=src)), Traffic.internet(22)).allowed, src
    assert not evaluate(group(rule("r", 100, port="22", source="203.0.113.0/24")), Traffic.internet(22)).allowed


def test_protocol_and_destination_ranges() -> None:
    udp = group(rule("r", 100, port="22", protocol="Udp"))
    assert not evaluate(udp, Traffic.internet(22)).allowed
    ranges = group(rule("r", 100, port="", destinationPortRanges=["21-23", "3389"]))
    assert evaluate(ranges, Traffic.internet(3389)).allowed and evaluate(ranges, Traffic.internet(22)).allowed
    assert not evaluate(ranges, Traffic.internet(80)).allowed
    dest = group(rule("r", 100, port="22", destinationAddressPrefix="10.0.1.0/24"))
    assert not evaluate(dest, Traffic.internet(22, destination_ip="10.0.0.5")).allowed
    assert evaluate(dest, Traffic.internet(22, destination_ip="10.0.1.5")).allowed


def test_specific_source_ports_do_not_match_ephemeral_clients() -> None:
    g = group(rule("r", 100, port="22", sourcePortRange="1024"))
    assert not evaluate(g, Traffic.internet(22)).allowed


def test_both_levels_must_allow() -> None:
    open_ = group(rule("ssh", 100, port="22"))
    closed = group()
    assert evaluate_path([None, open_], Traffic.internet(22))[0]
    allowed, decisions = evaluate_path([closed, open_], Traffic.internet(22))
    assert not allowed and len(decisions) == 1
    assert not evaluate_path([open_, closed], Traffic.internet(22))[0]
    assert evaluate_path([None, None], Traffic.internet(22))[0]
