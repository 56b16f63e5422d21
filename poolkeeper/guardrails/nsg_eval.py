"""A small, pure evaluator of network security group rules, for the guardrails that ask "does this traffic pass?".

How Azure evaluates (Microsoft Learn, "Network security groups: how network security groups filter network
traffic", learn.microsoft.com/azure/virtual-network/network-security-group-how-it-works): rules are processed in
priority order, lowest number first, and processing stops at the first rule that matches; inbound traffic meets the
subnet's NSG first and then the NIC's NSG, and must be allowed by both; with no NSG at a level, that level allows.
Every NSG carries the default rules (``AllowVnetInBound`` 65000, ``AllowAzureLoadBalancerInBound`` 65001,
``DenyAllInBound`` 65500); they are added here if a body lacks them.

The traffic questions the guardrails ask:

* the load balancer's health probe: source ``168.63.129.16``, service tag ``AzureLoadBalancer`` (Microsoft Learn,
  "Azure Load Balancer health probes": "the source IP is 168.63.129.16 ... the AzureLoadBalancer service tag");
* "the Internet at large": any public address, service tag ``Internet``. A rule matches it only if it covers every
  such address (``*``, ``Any``, ``Internet``, ``0.0.0.0/0``); a rule naming particular prefixes restricts the source
  and does not match, so an allow from ``203.0.113.0/24`` is not "open to the Internet" and a deny from it does not
  close the port to the Internet.

Assumptions no public source confirms (UNCONFIRMED): the ``Internet`` and ``VirtualNetwork`` tags do not contain
168.63.129.16; a rule with specific source ports does not match (probe and client source ports are ephemeral); a
destination given as an address prefix matches when the destination address is unknown; application security
groups (not simulated by armsim) never match.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from poolkeeper.model import NetworkSecurityGroup, SecurityRule

PROBE_SOURCE_IP = "168.63.129.16"
ANY = frozenset({"*", "any"})
_INTERNET_WIDE = frozenset({"*", "any", "internet", "0.0.0.0/0", "::/0"})

DEFAULT_INBOUND: tuple[SecurityRule, ...] = tuple(
    SecurityRule(name=name, id="", priority=prio, direction="Inbound", access=access, protocol="*",
                 source_prefixes=(src,), source_ports=("*",), destination_prefixes=(dst,), destination_ports=("*",),
                 is_default=True)
    for name, prio, access, src, dst in (
        ("AllowVnetInBound", 65000, "Allow", "VirtualNetwork", "VirtualNetwork"),
        ("AllowAzureLoadBalancerInBound", 65001, "Allow", "AzureLoadBalancer", "*"),
        ("DenyAllInBound", 65500, "Deny", "*", "*"),
    )
)


@dataclass(frozen=True)
class Traffic:
    """Inbound traffic to a VM: who sends it (a service tag and/or an address) and to which port."""

    port: int
    protocol: str = "Tcp"
    source_tag: str | None = None
    source_ip: str | None = None
    destination_ip: str | None = None

    @classmethod
    def probe(cls, port: int, destination_ip: str | None = None) -> Traffic:
        return cls(port=port, protocol="Tcp", source_tag="AzureLoadBalancer", source_ip=PROBE_SOURCE_IP,
                   destination_ip=destination_ip)

    @classmethod
    def internet(cls, port: int, protocol: str = "Tcp", destination_ip: str | None = None) -> Traffic:
        return cls(port=port, protocol=protocol, source_tag="Internet", destination_ip=destination_ip)


@dataclass(frozen=True)
class Decision:
    """What one NSG does with the traffic: the rule that decided it (None: no NSG at this level)."""

    allowed: bool
    nsg_id: str | None
    rule: SecurityRule | None

    def explain(self) -> str:
        if self.rule is None:
            return "no NSG"
        nsg = (self.nsg_id or "").rsplit("/", 1)[-1]
        return f"{nsg}/{self.rule.name} (priority {self.rule.priority}, {self.rule.access})"


def port_matches(ranges: Iterable[str], port: int) -> bool:
    """``*``, ``80`` or ``1000-2000`` (ARM's forms), any of a list."""
    for r in ranges:
        text = str(r).strip()
        if text.lower() in ANY:
            return True
        low, _, high = text.partition("-")
        try:
            if int(low) <= port <= int(high or low):
                return True
        except ValueError:
            continue
    return False


def _prefix_contains(prefix: str, ip: str) -> bool:
    try:
        return ipaddress.ip_address(ip) in ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False


def _is_prefix(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
        return True
    except ValueError:
        return False


def source_matches(prefixes: Iterable[str], traffic: Traffic) -> bool:
    for raw in prefixes:
        p = str(raw).strip()
        low = p.lower()
        if traffic.source_tag and traffic.source_tag.lower() == "internet" and traffic.source_ip is None:
            if low in _INTERNET_WIDE:
                return True
            continue
        if low in ANY:
            return True
        if traffic.source_tag and low == traffic.source_tag.lower():
            return True
        if traffic.source_ip and _is_prefix(p) and _prefix_contains(p, traffic.source_ip):
            return True
    return False


def destination_matches(prefixes: Iterable[str], traffic: Traffic) -> bool:
    for raw in prefixes:
        p = str(raw).strip()
        low = p.lower()
        if low in ANY or low == "virtualnetwork":
            return True
        if _is_prefix(p) and (traffic.destination_ip is None or _prefix_contains(p, traffic.destination_ip)):
            return True
    return False


def rule_matches(rule: SecurityRule, traffic: Traffic, direction: str = "Inbound") -> bool:
    if rule.direction.lower() != direction.lower():
        return False
    if rule.protocol.lower() not in ANY and rule.protocol.lower() != traffic.protocol.lower():
        return False
    if not port_matches(rule.destination_ports, traffic.port):
        return False
    if not all(str(r).strip().lower() in ANY or str(r).strip() == "0-65535" for r in rule.source_ports):
        return False
    return source_matches(rule.source_prefixes, traffic) and destination_matches(rule.destination_prefixes, traffic)


def inbound_rules(nsg: NetworkSecurityGroup) -> list[SecurityRule]:
    """The NSG's inbound rules by priority, with Azure's defaults added when the body lacks them."""
    rules = [r for r in nsg.rules if r.direction.lower() == "inbound"]
    if not any(r.is_default for r in rules):
        rules += DEFAULT_INBOUND
    return sorted(rules, key=lambda r: r.priority)


def evaluate(nsg: NetworkSecurityGroup | None, traffic: Traffic) -> Decision:
    """First matching inbound rule by priority decides; no NSG allows."""
    if nsg is None:
        return Decision(True, None, None)
    for rule in inbound_rules(nsg):
        if rule_matches(rule, traffic):
            return Decision(rule.access.lower() == "allow", nsg.id, rule)
    return Decision(False, nsg.id, None)


def evaluate_path(nsgs: Sequence[NetworkSecurityGroup | None], traffic: Traffic) -> tuple[bool, list[Decision]]:
    """Inbound through each level in order (subnet NSG, then NIC NSG): allowed only if every level allows.
    Returns the verdict and each level's decision (evaluation stops at the first level that denies)."""
    decisions: list[Decision] = []
    for nsg in nsgs:
        d = evaluate(nsg, traffic)
        decisions.append(d)
        if not d.allowed:
            return False, decisions
    return True, decisions
