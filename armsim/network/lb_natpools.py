"""Inbound NAT pools of scale sets: the NAT rules Azure derives per instance (``{pool}.{instance}``)."""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from armsim.errors import ArmError, not_found
from armsim.network.common import (
    invalid_reference,
)
from armsim.store import Record

if TYPE_CHECKING:
    from armsim.engine import Engine
from armsim.network.lb_common import (
    LB_TYPE,
    META_DERIVED,
    _derived,
)


def set_natpool_rules(engine: Engine, lb_id: str, pool_name: str, members: dict[str, str | None]) -> None:
    """Materialise the inbound NAT rules Azure derives from a NAT pool for scale-set instances.

    ``members`` maps instance id -> the instance NIC's ip configuration id; ``None`` removes that instance's rule.
    Rules are named ``{pool_name}.{instanceId}`` (as in VmssNetworkInterfaceList.json) with frontend port =
    the pool's ``frontendPortRangeStart`` + a stable slot: an instance keeps its port, new instances take the lowest
    free port of the range (in instance-id order). Raises ``ArmError(400,
    "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts")`` without changing anything if the range is too small.
    The LB body is updated in place (new etag); derived rules are recorded in ``record.meta["natpool_rules"]`` so the
    "NAT rules beside a NAT pool" refusal ignores them and clients echoing them back change nothing.
    """
    rec = engine.store.get(lb_id)
    if rec is None or rec.type.lower() != LB_TYPE.lower():
        raise not_found(lb_id, f"resource '{LB_TYPE}'")
    props = rec.body.get("properties", {})
    pool = next((p for p in props.get("inboundNatPools") or [] if p["name"].lower() == pool_name.lower()), None)
    if pool is None:
        raise invalid_reference(f"{rec.id}/inboundNatPools/{pool_name}", rec.id)
    pp = pool["properties"]
    members = {str(k): v for k, v in members.items()}
    derived = _derived(rec.meta)
    rules = {r["name"].lower(): r for r in props.get("inboundNatRules") or []}
    mine = {k: v for k, v in derived.items() if v["pool"].lower() == pool["name"].lower()}
    by_instance = {v["instance"]: k for k, v in mine.items()}
    for inst, ipc in members.items():
        k = by_instance.get(inst)
        if ipc is None and k is not None:
            mine.pop(k)
        elif ipc is not None and k is not None:
            mine[k] = dict(mine[k], ipconfig=ipc)
    used = {rules[k]["properties"]["frontendPort"] for k in mine if k in rules}
    new = sorted(
        (i for i, ipc in members.items() if ipc is not None and i not in by_instance), key=lambda s: (len(s), s)
    )
    free = [p for p in range(pp["frontendPortRangeStart"], pp["frontendPortRangeEnd"] + 1) if p not in used]
    if len(new) > len(free):
        size = pp["frontendPortRangeEnd"] - pp["frontendPortRangeStart"] + 1
        raise ArmError(
            400,
            "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts",
            f"Inbound NAT pool {pool['id']} has a frontend port range {pp['frontendPortRangeStart']}-"
            f"{pp['frontendPortRangeEnd']} of {size} ports, smaller than the {len(used) + len(new)} ports requested by "
            f"virtual machine scale set instances. Enlarge the range or reduce the instance count.",
        )
    body = copy.deepcopy(rec.body)
    kept: list[dict[str, Any]] = []
    for r in body["properties"].get("inboundNatRules") or []:
        k = r["name"].lower()
        if k in derived and derived[k]["pool"].lower() == pool["name"].lower() and k not in mine:
            continue
        kept.append(r)
    for inst, port in zip(new, free, strict=False):
        name = f"{pool['name']}.{inst}"
        mine[name.lower()] = {"name": name, "pool": pool["name"], "instance": inst, "ipconfig": members[inst]}
        kept.append(
            {
                "name": name,
                "id": f"{rec.id}/inboundNatRules/{name}",
                "properties": {
                    "frontendIPConfiguration": copy.deepcopy(pp["frontendIPConfiguration"]),
                    "frontendPort": port,
                    "backendPort": pp["backendPort"],
                    "enableFloatingIP": pp.get("enableFloatingIP", False),
                    "idleTimeoutInMinutes": pp.get("idleTimeoutInMinutes", 4),
                    "protocol": pp["protocol"],
                    "enableTcpReset": pp.get("enableTcpReset", False),
                    "provisioningState": body["properties"].get("provisioningState", "Succeeded"),
                },
            }
        )
    body["properties"]["inboundNatRules"] = kept
    if rec.body.get("etag") is not None:
        body["etag"] = f'W/"{uuid.uuid4()}"'
    others = {k: v for k, v in derived.items() if v["pool"].lower() != pool["name"].lower()}
    meta = dict(rec.meta)
    meta[META_DERIVED] = {**others, **mine}
    engine.store.put(Record(rec.id, rec.type, body, busy_op=rec.busy_op, meta=meta))
    engine.on_change()
