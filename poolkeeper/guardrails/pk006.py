"""PK006: a management port (22, 3389; a parameter) reachable from the Internet.

Either an NSG in use allows it from ``*``/``Internet``/``0.0.0.0/0`` (the first matching rule by priority is an
allow), or an inbound NAT rule forwards to it on a backend whose NSGs do not restrict the source.

Sources: seed 000, "For incoming Internet traffic, the load balancer rules define which traffic can reach the back
end. However, load balancer rules don't support IP safe lists, so if you want to add certain public IP addresses to
a safe list, add an NSG to the subnet." and its NAT rules to 3389 per VM; seed 002 on the security of the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from poolkeeper.changes import AssignNatRule, Change, CreateNatRule, EnsureNatRuleV2, JoinPool
from poolkeeper.findings import Finding
from poolkeeper.guardrails.netpath import internet_reachable
from poolkeeper.guardrails.nsg_eval import Traffic, evaluate
from poolkeeper.guardrails.registry import Refusal, View, found, guardrail
from poolkeeper.ids import id_key, same_id
from poolkeeper.model import InboundNatRule, IpConfiguration, LoadBalancer, Nic, Snapshot

ID = "PK006"
FIX_NSG = ("restrict the rule's source to the addresses that administer the VMs (or use Azure Bastion); "
           "load balancer rules cannot filter sources, NSGs can")
FIX_NAT = ("add an NSG rule on the NIC or subnet that allows the management port only from your admin addresses "
           "(and denies it from Internet), or remove the NAT rule")


def _nat_backends(snap: Snapshot, lb: LoadBalancer, rule: InboundNatRule) -> list[tuple[Nic, IpConfiguration]]:
    if rule.backend_address_pool_id:
        return snap.pool_members(rule.backend_address_pool_id)
    out = list(snap.nat_rule_referrers(rule.id))
    if rule.backend_ip_configuration_id and not out:
        nic = snap.nic_for_ip_configuration(rule.backend_ip_configuration_id)
        ic = nic.ip_configuration(rule.backend_ip_configuration_id) if nic else None
        if nic is not None and ic is not None:
            out.append((nic, ic))
    return out


def _nat_finding(lb: LoadBalancer, rule_id: str, rule_name: str, port: int, nic: Nic,
                 evidence: Mapping[str, Any], binding: str | None = None) -> Finding:
    return found(ID, rule_id, f"NAT rule {rule_name} of {lb.name} forwards to management port {port} of NIC "
                              f"{nic.name}, and nothing restricts the source ({evidence.get('decidedBy')})",
                 fix=FIX_NAT, evidence={**evidence, "nic": nic.id}, binding=binding)


def _planned_backend(snap: Snapshot, nic_id: str, ip_configuration: str) -> list[tuple[Nic, IpConfiguration]]:
    """The NIC and ip configuration a planned assignment or join names, if both exist (else nothing)."""
    nic = snap.nic(nic_id)
    ic = nic.ip_configuration(ip_configuration) if nic else None
    return [(nic, ic)] if nic is not None and ic is not None else []


def screen(changes: Sequence[Change], view: View, params: Mapping[str, Any]) -> Iterable[Refusal]:
    """A new NAT rule to a management port on a backend open to the Internet creates the violation."""
    snap, ports = view.snapshot, set(params["ports"])
    for create in [c for c in changes if isinstance(c, CreateNatRule | EnsureNatRuleV2)]:
        if create.backend_port not in ports:
            continue
        lb = snap.load_balancer(create.lb_id)
        backends: list[tuple[Nic, IpConfiguration, Change | None]] = []
        if isinstance(create, CreateNatRule):
            assigns = [a for a in changes if isinstance(a, AssignNatRule) and same_id(a.rule_id, create.rule_id)]
            backends += [(nic, ic, a) for a in assigns for nic, ic in _planned_backend(snap, a.nic_id,
                                                                                       a.ip_configuration)]
        else:
            backends += [(n, i, None) for n, i in snap.pool_members(create.pool_id)]
            joins = [j for j in changes if isinstance(j, JoinPool) and same_id(j.pool_id, create.pool_id)]
            backends += [(nic, ic, None) for j in joins for nic, ic in _planned_backend(snap, j.nic_id,
                                                                                        j.ip_configuration)]
        for nic, ic, assign in backends:
            reachable, evidence = internet_reachable(snap, lb, nic, ic, create.backend_port, create.protocol)
            if reachable and lb is not None:
                refused: tuple[Change, ...] = (create,) if assign is None else (create, assign)
                yield Refusal(_nat_finding(lb, create.rule_id, create.rule_name, create.backend_port, nic, evidence,
                                           create.binding), refused)
                break


@guardrail(id=ID, title="Management port reachable from the Internet", severity="high", fix_hint=FIX_NAT,
           source="000: \"load balancer rules don't support IP safe lists ... add an NSG to the subnet\"; 002",
           needs=("nsgs", "virtual_networks"), screen=screen,
           params_schema={"properties": {"ports": {
               "type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}, "minItems": 1,
               "uniqueItems": True, "default": [22, 3389]}}})
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    snap = view.snapshot
    used: set[str] = {id_key(n.network_security_group_id) for n in snap.nics.values() if n.network_security_group_id}
    used |= {id_key(sn.network_security_group_id) for v in snap.virtual_networks.values() for sn in v.subnets
             if sn.network_security_group_id}
    for nsg in snap.nsgs.values():
        if nsg.key not in used and not nsg.nic_ids and not nsg.subnet_ids:
            continue
        for port in params["ports"]:
            d = evaluate(nsg, Traffic.internet(port))
            if d.allowed and d.rule is not None and not d.rule.is_default:
                yield found(ID, d.rule.id or nsg.id, f"NSG {nsg.name} rule {d.rule.name} (priority "
                                                     f"{d.rule.priority}) allows management port {port} from "
                                                     f"{', '.join(d.rule.source_prefixes)}", fix=FIX_NSG,
                            evidence={"nsg": nsg.id, "rule": d.rule.name, "port": port,
                                      "source": list(d.rule.source_prefixes)})
    for lb in snap.load_balancers.values():
        for rule in lb.inbound_nat_rules:
            if rule.backend_port is None or rule.backend_port not in params["ports"]:
                continue
            for nic, ic in _nat_backends(snap, lb, rule):
                reachable, evidence = internet_reachable(snap, lb, nic, ic, rule.backend_port, rule.protocol)
                if reachable:
                    evidence["frontendPort"] = rule.frontend_port
                    yield _nat_finding(lb, rule.id, rule.name, rule.backend_port, nic, evidence)
                    break



