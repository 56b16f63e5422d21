"""PK001: a NIC in a managed backend pool has a public IP.

Source: seed 000 (reference architecture), "Network recommendations": "Do not expose the VMs directly to the
Internet, but instead give each VM a private IP address. Clients connect using the public IP address of the load
balancer." (Azure Policy has a built-in for NICs with public IPs; nothing ties it to load-balancer pools.)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from poolkeeper.changes import AssignNatRule, Change, CreateNatRule, JoinPool
from poolkeeper.findings import Finding
from poolkeeper.guardrails.netpath import managed_pool_keys, short
from poolkeeper.guardrails.registry import Refusal, View, found, guardrail
from poolkeeper.ids import id_key
from poolkeeper.model import Nic

ID = "PK001"
FIX = ("remove the public IP from the NIC's ip configuration (az network nic ip-config update --remove "
       "publicIpAddress) and reach the VM through the load balancer's frontend or a NAT rule")


def _public_ips(nic: Nic) -> list[str]:
    return [ic.public_ip_id for ic in nic.ip_configurations if ic.public_ip_id]


def _finding(nic: Nic, pool_id: str, binding: str | None = None) -> Finding:
    pips = _public_ips(nic)
    return found(ID, nic.id, f"NIC {nic.name} is in backend pool {short(pool_id)} and has public IP "
                             f"{', '.join(short(p) for p in pips)}: the VM is exposed directly to the Internet",
                 fix=FIX, evidence={"publicIps": pips, "pool": pool_id}, binding=binding)


def screen(changes: Sequence[Change], view: View, params: Mapping[str, Any]) -> Iterable[Refusal]:
    """Joining a NIC with a public IP to a managed pool creates the violation: refuse the join and the NAT rule
    wiring planned for the same NIC."""
    for join in [c for c in changes if isinstance(c, JoinPool)]:
        nic = view.snapshot.nic(join.nic_id)
        if nic is None or not _public_ips(nic):
            continue
        assigns = [c for c in changes if isinstance(c, AssignNatRule) and id_key(c.nic_id) == nic.key]
        rules = {id_key(a.rule_id) for a in assigns}
        creates = [c for c in changes if isinstance(c, CreateNatRule) and id_key(c.rule_id) in rules]
        yield Refusal(_finding(nic, join.pool_id, join.binding), (join, *assigns, *creates))


@guardrail(id=ID, title="NIC in a managed backend pool has a public IP", source="000: \"Do not expose the VMs "
           "directly to the Internet\"", severity="high", default_mode="audit", screen=screen, fix_hint=FIX,
           params_schema={"properties": {"allPools": {
               "type": "boolean", "default": False,
               "description": "check every backend pool, not only those a binding manages"}}})
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    managed = managed_pool_keys(view.config)
    seen: set[str] = set()
    for lb in view.snapshot.load_balancers.values():
        for pool in lb.backend_pools:
            if not params["allPools"] and id_key(pool.id) not in managed:
                continue
            for nic, _ in view.snapshot.pool_members(pool.id):
                if nic.key in seen or not _public_ips(nic):
                    continue
                seen.add(nic.key)
                yield _finding(nic, pool.id)
