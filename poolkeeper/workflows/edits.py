"""Apply a step's edits to the body as freshly read (pure).

A step carries *what* to change (``("delete-natpool", "MyNatPool")``), not a body: the body is read again just before
the write and edited here, so the PUT carries every change another writer made since the plan was made, and an edit
that has already happened is a no-op (the caller then skips the write).
"""

from __future__ import annotations

import copy
from typing import Any

from poolkeeper.ids import same_id
from poolkeeper.workflows import armjson as aj
from poolkeeper.workflows.intents import INTENT_TAG

Raw = dict[str, Any]

# Back-references the network provider computes on load-balancer children; pruned of children that are gone so a
# PUT never sends a reference to something the same PUT deletes.
_BACK_REFS = ("inboundNatPools", "inboundNatRules", "loadBalancingRules", "outboundRules")


class EditConflict(Exception):
    """An edit cannot be applied to the resource as it is now (e.g. another operation's intent is recorded)."""


def apply_lb_edits(lb: Raw, edits: list[tuple[Any, ...]]) -> Raw:
    body = copy.deepcopy(lb)
    for edit in edits:
        op = edit[0]
        if op == "record-intent":
            current = aj.tags(body).get(INTENT_TAG)
            if current and current != edit[1]:
                raise EditConflict(
                    f"another operation is recorded on {lb.get('id')} ({INTENT_TAG}={current}); finish it first "
                    "(`python -m poolkeeper operation resume <id>`) or remove the tag if it is stale"
                )
            body = aj.with_tag(body, INTENT_TAG, edit[1])
        elif op == "clear-intent":
            if INTENT_TAG in aj.tags(body):
                body = aj.with_tag(body, INTENT_TAG, None)
        elif op == "add-child":
            _, collection, item = edit
            if aj.child(body, collection, item["name"]) is None:
                body = aj.with_child(body, collection, item)
        elif op == "delete-child":
            body = aj.without_child(body, edit[1], edit[2])
        elif op == "delete-natpool":
            name = edit[1]
            body = aj.without_child(body, "inboundNatPools", name)
            derived = {str(r.get("name", "")).lower() for r in aj.derived_rules(body, name)}
            body["properties"]["inboundNatRules"] = [
                r for r in aj.children(body, "inboundNatRules") if str(r.get("name", "")).lower() not in derived
            ]
        elif op == "set-rule-port":
            _, name, port = edit
            rule = aj.child(body, "loadBalancingRules", name)
            if rule is None:
                raise EditConflict(f"load-balancing rule {name} is no longer on {lb.get('id')}")
            rule.setdefault("properties", {})["backendPort"] = port
        else:  # pragma: no cover - a programming error, not an Azure state
            raise ValueError(f"unknown load-balancer edit {op!r}")
    return prune_back_references(body)


def prune_back_references(lb: Raw) -> Raw:
    """Drop back-references (``frontendIPConfigurations[].properties.inboundNatPools`` …) to deleted children."""
    present = {aj.key(str(c.get("id", ""))) for col in aj.LB_COLLECTIONS for c in aj.children(lb, col) if c.get("id")}
    for collection in ("frontendIPConfigurations", "backendAddressPools", "probes"):
        for item in aj.children(lb, collection):
            p = item.get("properties") or {}
            for key in _BACK_REFS:
                if isinstance(p.get(key), list):
                    p[key] = [r for r in p[key] if not r.get("id") or aj.key(r["id"]) in present]
    return lb


def apply_model_edits(vmss: Raw, edits: list[tuple[Any, ...]]) -> Raw:
    body = copy.deepcopy(vmss)
    for edit in edits:
        op = edit[0]
        if op == "drop-model-ref":
            body = aj.edit_model_refs(body, edit[1], remove=edit[2])
        elif op == "add-model-ref":
            _, key, target, where = edit
            if not aj.model_references(body, key, target):
                body = aj.edit_model_refs(body, key, add=target, add_where=where)
        elif op == "set-probe":
            if not same_id(aj.health_probe(body), edit[1]) or (edit[1] is None and aj.health_probe(body)):
                body = aj.with_health_probe(body, edit[1])
        else:  # pragma: no cover
            raise ValueError(f"unknown scale-set edit {op!r}")
    return body
