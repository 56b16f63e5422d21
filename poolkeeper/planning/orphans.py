"""Phases ``orphans`` (``pk-`` rules nobody needs) and ``keep_wanted_rules`` (never delete a rule someone wants)."""

from __future__ import annotations

from poolkeeper.changes import RULE_PREFIX, DeleteNatRule
from poolkeeper.ids import id_key, parent_key
from poolkeeper.planning.context import Context, Draft, Work, sorted_values


def orphans(ctx: Context, draft: Draft) -> Draft:
    """V1 rules whose NIC is gone, and in a full run also unreferenced V1 rules and V2 rules no binding with
    subjects wants."""
    work = Work(ctx, draft)
    for lb in sorted_values(ctx.snapshot.load_balancers):
        if not ctx.in_scope(lb.id) or lb.inbound_nat_pools:
            continue
        for rule in sorted(lb.inbound_nat_rules, key=lambda r: r.name.lower()):
            if not rule.name.lower().startswith(RULE_PREFIX) or id_key(rule.id) in draft.wanted_rules:
                continue
            backend = rule.backend_ip_configuration_id
            if rule.is_v2:
                if ctx.only is not None:
                    continue
                why = "no binding with subjects asks for this NAT rule V2 any more"
            elif backend:
                nic_key = parent_key(backend)
                if ctx.snapshot.nics.get(nic_key) is not None or not ctx.in_scope(backend):
                    continue
                if ctx.only is not None and nic_key not in ctx.only:
                    continue
                why = f"its NIC {nic_key.rsplit('/', 1)[-1]} no longer exists"
            else:
                if ctx.only is not None or ctx.snapshot.nat_rule_referrers(rule.id):
                    continue
                why = "no VM references it and no VM wants it"
            work.add(DeleteNatRule(lb_id=lb.id, rule_name=rule.name, binding="", reason=f"orphaned NAT rule: {why}"))
    return work.done()


def keep_wanted_rules(ctx: Context, draft: Draft) -> Draft:
    """A rule that one subject releases and another keeps (a VM re-created under the same name) is kept."""
    kept = tuple(c for c in draft.changes
                 if not (isinstance(c, DeleteNatRule) and id_key(c.rule_id) in draft.wanted_rules))
    return draft.with_(changes=kept)
