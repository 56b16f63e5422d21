"""PK012: NAT rule hygiene — duplicate frontend ports, a ``pk-`` rule outside its binding's range, rules pointing
at nothing (orphans; those poolkeeper does not own are reported, never deleted).

Source: seed 000, "Each rule should map a distinct port number to port 3389 ... use port 50001 for "VM1," port
50002 for "VM2," and so on. Assign the NAT rules to the NICs on the VMs."
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from poolkeeper.changes import RULE_PREFIX, Change, DeleteNatRule
from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail
from poolkeeper.ids import id_key, in_scope, parent_key, same_id, scale_set_of
from poolkeeper.ports import protocols_overlap

ID = "PK012"
FIX_ORPHAN_PK = "poolkeeper deletes its own orphaned pk- rules at the next reconcile (python -m poolkeeper apply)"
FIX_ORPHAN = "check who created the rule; delete it by hand if nothing needs it (poolkeeper never deletes it)"
FIX_RANGE = "poolkeeper renumbers it only if the port clashes; change the binding's range or re-create the rule"
FIX_DUP = "give each NAT rule its own frontend port"


def fix(finding: Finding) -> Sequence[Change]:
    """Only a ``pk-`` orphan has a safe fix: deleting it (what the planner does anyway)."""
    if finding.evidence.get("kind") != "orphan" or not finding.evidence.get("owned"):
        return ()
    rid = finding.resource_id
    return (DeleteNatRule(lb_id=rid.rsplit("/inboundNatRules/", 1)[0], rule_name=rid.rsplit("/", 1)[-1],
                          binding="", reason=f"{ID}: orphaned NAT rule"),)


@guardrail(id=ID, title="NAT rules: duplicate ports, pk- rule outside its range, orphans", severity="medium",
           source="000: \"Each rule should map a distinct port number\"", fix=fix, fix_hint=FIX_ORPHAN)
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    snap, config = view.snapshot, view.config
    for lb in snap.load_balancers.values():
        # (frontend, protocol, ports, name, NAT pool it derives from / is): Azure derives rules ``{pool}.{n}`` from a
        # NAT pool, inside the pool's range; those are not duplicates of the pool
        pools = {p.name.lower() for p in lb.inbound_nat_pools}
        claims: list[tuple[str, str, range, str, str | None]] = []
        for r in lb.inbound_nat_rules:
            origin = r.name.rsplit(".", 1)[0].lower() if "." in r.name else None
            claims.append((id_key(r.frontend_ip_configuration_id or ""), r.protocol, r.frontend_ports(), r.name,
                           origin if origin in pools else None))
        for p in lb.inbound_nat_pools:
            claims.append((id_key(p.frontend_ip_configuration_id or ""), p.protocol, p.frontend_ports(), p.name,
                           p.name.lower()))
        for i, (fe, proto, ports, name, pool) in enumerate(claims):
            for fe2, proto2, ports2, name2, pool2 in claims[i + 1:]:
                if pool is not None and pool == pool2:
                    continue
                shared = set(ports) & set(ports2)
                if fe == fe2 and protocols_overlap(proto, proto2) and shared:
                    yield found(ID, lb.id, f"NAT rules {name} and {name2} of {lb.name} share frontend port(s) "
                                           f"{', '.join(str(x) for x in sorted(shared)[:5])}", fix=FIX_DUP,
                                evidence={"kind": "duplicate", "rules": [name, name2]})
        for r in lb.inbound_nat_rules:
            owned = r.name.lower().startswith(RULE_PREFIX)
            if owned and not r.is_v2 and r.frontend_port is not None:
                ranges = [b.nat_rule.frontend_port_range for b in config.bindings
                          if b.nat_rule is not None and same_id(b.load_balancer, lb.id)
                          and r.backend_port == b.nat_rule.backend_port]
                if ranges and not any(lo <= r.frontend_port <= hi for lo, hi in ranges):
                    yield found(ID, r.id, f"poolkeeper's NAT rule {r.name} uses frontend port {r.frontend_port}, "
                                          f"outside its binding's range {ranges[0][0]}-{ranges[0][1]}",
                                fix=FIX_RANGE, evidence={"kind": "range", "frontendPort": r.frontend_port,
                                                         "ranges": [list(x) for x in ranges]})
            if r.is_v2:
                continue
            backend = r.backend_ip_configuration_id
            referrers = snap.nat_rule_referrers(r.id)
            # a Uniform instance NIC (under Microsoft.Compute) is not in the snapshot: unknown, not gone
            gone = backend is not None and snap.nics.get(parent_key(backend)) is None \
                and in_scope(backend, config.scopes) and not referrers and scale_set_of(backend) is None
            if (backend is None and not referrers) or gone:
                what = "no NIC" if backend is None else f"missing NIC {parent_key(backend).rsplit('/', 1)[-1]}"
                yield found(ID, r.id, f"NAT rule {r.name} of {lb.name} points at {what} (orphan)",
                            fix=FIX_ORPHAN_PK if owned else FIX_ORPHAN,
                            evidence={"kind": "orphan", "owned": owned, "backendIpConfiguration": backend})
