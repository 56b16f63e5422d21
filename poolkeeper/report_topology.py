"""The topology of each load balancer, for the report's picture: frontends → rules / NAT rules → pools → NICs → VMs,
with each element's findings and drained members marked. Pure: snapshot + findings → JSON-ready dicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from poolkeeper.config import Binding
from poolkeeper.findings import Finding
from poolkeeper.ids import id_key, parent_key
from poolkeeper.maintenance import DRAIN_TAG
from poolkeeper.model import LoadBalancer, Snapshot


def _short(resource_id: str | None) -> str:
    return (resource_id or "").rstrip("/").rsplit("/", 1)[-1]


def _violations(findings: Sequence[Finding], *ids: str | None) -> list[str]:
    """Guardrail ids of the findings about any of these resources (or their children)."""
    keys = {id_key(i) for i in ids if i}
    out = {f.guardrail for f in findings
           if id_key(f.resource_id) in keys or any(id_key(f.resource_id).startswith(k + "/") for k in keys)}
    return sorted(out)


def admin_states(lb: LoadBalancer) -> dict[str, str]:
    """ip configuration key → admin state, from the pools' ``loadBalancerBackendAddresses``."""
    out: dict[str, str] = {}
    for pool in (lb.raw.get("properties") or {}).get("backendAddressPools") or []:
        for addr in (pool.get("properties") or {}).get("loadBalancerBackendAddresses") or []:
            ap = addr.get("properties") or {}
            ref = (ap.get("networkInterfaceIPConfiguration") or {}).get("id")
            if ref and ap.get("adminState"):
                out[id_key(ref)] = str(ap["adminState"])
    return out


def _labels(ipc: str, vm_id: str | None, nic_name: str | None = None) -> tuple[str, str]:
    """(NIC label, VM label); a scale-set instance NIC reads ``ss1/0`` and its VM ``ss1_0``."""
    parts = ipc.split("/")
    lowered = [p.lower() for p in parts]
    if "virtualmachinescalesets" in lowered:
        i = lowered.index("virtualmachinescalesets")
        ss, instance = parts[i + 1], parts[i + 3] if len(parts) > i + 3 else "?"
        return f"{ss}/{instance} {_short(parent_key(ipc))}", f"{ss}_{instance}"
    return nic_name or ipc.split("/ipConfigurations/")[0].rsplit("/", 1)[-1], _short(vm_id)


def _nat_label(snapshot: Snapshot, ipc: str | None) -> str | None:
    if not ipc:
        return None
    nic = snapshot.nics.get(parent_key(ipc))
    return _labels(ipc, None, nic.name if nic is not None else None)[0]


def topology(snapshot: Snapshot, findings: Sequence[Finding],
             bindings: Sequence[Binding] = ()) -> list[dict[str, Any]]:
    view_bindings = bindings
    out = []
    for lb in sorted(snapshot.load_balancers.values(), key=lambda x: x.id.lower()):
        admin = admin_states(lb)
        pools = []
        for pool in lb.backend_pools:
            members = []
            for ipc in pool.backend_ip_configuration_ids:
                nic = snapshot.nics.get(parent_key(ipc))
                vm_id = nic.vm_id if nic is not None else None
                drained_tag = nic is not None and any(k.lower() == DRAIN_TAG for k in nic.tags)
                state = admin.get(id_key(ipc))
                nic_label, vm_label = _labels(ipc, vm_id, nic.name if nic is not None else None)
                members.append({"ipConfiguration": ipc, "nic": nic_label, "vm": vm_label,
                                "adminState": state, "drained": state == "Down" or drained_tag,
                                "violations": _violations(findings, parent_key(ipc), vm_id)})
            # subjects a binding wants in this pool that are not in it (PK013 drift or removed by someone)
            for f in findings:
                change = f.evidence.get("change") or {}
                wanted = f.guardrail == "PK013" and (id_key(str(change.get("poolId", ""))) == id_key(pool.id) or (
                    f.evidence.get("kind") == "removedByPerson" and f.binding is not None
                    and any(b.name == f.binding and id_key(b.pool_id) == id_key(pool.id)
                            for b in view_bindings)))
                if wanted:
                    nic = snapshot.nics.get(id_key(f.resource_id))
                    members.append({"ipConfiguration": None, "nic": _short(f.resource_id) + " (not in pool)",
                                    "vm": _short(nic.vm_id if nic else None), "adminState": None, "drained": False,
                                    "violations": ["PK013"]})
            # NICs drained by membership removal are out of the pool: list them so the picture shows them
            for nic in snapshot.nics.values():
                record = next((v for k, v in nic.tags.items() if k.lower() == DRAIN_TAG), "")
                if record and f"/{pool.name.lower()}" in record.lower() and f"{lb.name.lower()}/" in record.lower() \
                        and not any(parent_key(i) == nic.key for i in pool.backend_ip_configuration_ids):
                    members.append({"ipConfiguration": None, "nic": nic.name, "vm": _short(nic.vm_id),
                                    "adminState": None, "drained": True,
                                    "violations": _violations(findings, nic.id, nic.vm_id)})
            pools.append({"name": pool.name, "id": pool.id, "members": members,
                          "violations": _violations(findings, pool.id)})
        out.append({
            "id": lb.id, "name": lb.name, "sku": lb.sku,
            "violations": sorted({f.guardrail for f in findings if id_key(f.resource_id) == id_key(lb.id)}),
            "frontends": [{"name": f.name, "id": f.id} for f in lb.frontends],
            "rules": [{"name": r.name, "frontend": _short(r.frontend_ip_configuration_id),
                       "pools": [_short(p) for p in r.backend_address_pool_ids], "probe": _short(r.probe_id) or None,
                       "port": r.frontend_port, "backendPort": r.backend_port,
                       "violations": _violations(findings, r.id)} for r in lb.load_balancing_rules],
            "natRules": [{"name": r.name, "frontend": _short(r.frontend_ip_configuration_id),
                          "port": r.frontend_port, "backendPort": r.backend_port,
                          "nic": _nat_label(snapshot, r.backend_ip_configuration_id),
                          "pool": _short(r.backend_address_pool_id) or None,
                          "violations": _violations(findings, r.id)} for r in lb.inbound_nat_rules],
            "pools": pools,
        })
    return out
