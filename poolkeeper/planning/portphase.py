"""Phase ``resolve_ports``: frontend ports, decided last.

Last, so the ports of rules this plan deletes can be reused at once (one-step convergence); NAT rule V2 ranges
(whole ranges) before single per-VM ports, each in the deterministic order the earlier phases asked for them.
"""

from __future__ import annotations

from poolkeeper.changes import DeleteNatRule
from poolkeeper.planning.context import Context, Draft, Work
from poolkeeper.planning.poolrules import ensure_pool_rule
from poolkeeper.planning.vmrules import allocate_vm_port
from poolkeeper.ports import PortAllocator


def resolve_ports(ctx: Context, draft: Draft) -> Draft:
    work = Work(ctx, draft)
    ports = PortAllocator()
    for c in draft.changes:
        if isinstance(c, DeleteNatRule):
            ports.free_rule(c.lb_id, c.rule_name)
    for t in draft.pool_rule_requests:
        ensure_pool_rule(work, ports, t)
    for req in draft.port_requests:
        allocate_vm_port(work, ports, req)
    return work.done(pool_rule_requests=(), port_requests=())
