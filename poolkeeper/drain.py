"""Drain and restore a VM: take it out of rotation for maintenance, recorded in Azure, and put back exactly that.

How a VM leaves rotation, per backend pool its NICs are in:

* **admin state** (``a``) where Azure applies it: a **Standard** load balancer whose pool is used by a load-balancing
  rule with a health probe. poolkeeper sets ``adminState: Down`` on the pool's backend address entry of the NIC's ip
  configuration (LoadBalancerBackendAddressPropertiesFormat.adminState, enum None/Up/Down, in
  specification/network/resource-manager/Microsoft.Network/stable/2024-07-01/loadBalancer.json). Microsoft Learn,
  "Administrative State (Admin State) in Azure Load Balancer" (learn.microsoft.com/azure/load-balancer/admin-state-
  overview): Down stops new connections of load-balancing rules whatever the probe says; it is Standard-only, it
  needs a health probe on the rule, and it does **not** apply to inbound NAT rules — so SSH/RDP through the VM's NAT
  rule keeps working during maintenance, which is what the operator usually wants. The how-to
  (learn.microsoft.com/azure/load-balancer/manage-admin-state-how-to) lists among its prerequisites a Standard load
  balancer with "a backend pool with health probes and load balancing rules attached".
* **membership removal** (``m``) everywhere else (Basic SKU, a pool only NAT rules or outbound rules use, no probe):
  the ip configuration leaves the pool, exactly what seed 003 step 5 does by hand.

The record — tag ``poolkeeper.drain`` on the NIC (:data:`~poolkeeper.maintenance.DRAIN_TAG`) — lists every pool
touched, how, on which ip configuration and the admin state before: ``v1;a:rg/lb/pool@ipconfig1=None,...``. It is
written before (admin state) or with (membership) the change, so a crash leaves a record ``restore`` completes;
every poolkeeper instance and the sweep read it from Azure and do not put the NIC back (``maintenance.hold_join``).
A drain that would leave a pool with fewer than ``limits.minInRotation`` members in rotation is refused.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from functools import partial
from typing import Any

from poolkeeper.edge.errors import Forbidden, InvalidRequest, NotFound
from poolkeeper.gateway import ArmGateway
from poolkeeper.ids import ResourceId, id_key, in_scope, same_id
from poolkeeper.logs import get_logger
from poolkeeper.maintenance import DRAIN_TAG, MaintenanceRefused
from poolkeeper.reconciler import Reconciler
from poolkeeper.rmw import read_modify_write

log = get_logger("drain")
RECORD_VERSION = "v1"
TAG_VALUE_MAX = 256  # Azure tag values: at most 256 characters

Raw = dict[str, Any]


@dataclass(frozen=True)
class Entry:
    """One pool a NIC's ip configuration left rotation in: how (``a`` admin state / ``m`` membership)."""

    how: str
    lb_id: str
    pool: str
    ip_configuration: str
    previous: str = "None"  # the admin state before (admin-state entries)

    @property
    def pool_id(self) -> str:
        return f"{self.lb_id}/backendAddressPools/{self.pool}"

    def encode(self) -> str:
        lb = ResourceId.parse(self.lb_id)
        return f"{self.how}:{lb.resource_group}/{lb.name}/{self.pool}@{self.ip_configuration}={self.previous}"

    @classmethod
    def decode(cls, text: str, subscription: str) -> Entry:
        how, _, rest = text.partition(":")
        path, _, previous = rest.partition("=")
        where, _, ipc = path.partition("@")
        rg, lb, pool = where.split("/")
        lb_id = f"/subscriptions/{subscription}/resourceGroups/{rg}/providers/Microsoft.Network/loadBalancers/{lb}"
        return cls(how, lb_id, pool, ipc, previous or "None")

    def to_dict(self) -> dict[str, Any]:
        return {"method": "adminState" if self.how == "a" else "membership", "loadBalancer": self.lb_id,
                "backendPool": self.pool, "ipConfiguration": self.ip_configuration, "previousAdminState":
                self.previous if self.how == "a" else None}


def encode_record(entries: list[Entry]) -> str:
    return RECORD_VERSION + ";" + ",".join(e.encode() for e in entries)


def decode_record(value: str, subscription: str) -> list[Entry]:
    version, _, body = value.partition(";")
    if version != RECORD_VERSION:
        raise ValueError(f"drain record {value[:60]!r} is not version {RECORD_VERSION}")
    return [Entry.decode(x, subscription) for x in body.split(",") if x]


def _tag(tags: dict[str, str] | None, key: str) -> str | None:
    return next((v for k, v in (tags or {}).items() if k.lower() == key.lower()), None)


def _pool(lb: Raw, name: str) -> Raw | None:
    pools = (lb.get("properties") or {}).get("backendAddressPools") or []
    return next((p for p in pools if str(p.get("name", "")).lower() == name.lower()), None)


def admin_state_applies(lb: Raw, pool_id: str) -> bool:
    """Standard SKU and a load-balancing rule with a probe sending to the pool (Microsoft Learn, admin state)."""
    if str((lb.get("sku") or {}).get("name", "Basic")).lower() != "standard":
        return False
    for rule in (lb.get("properties") or {}).get("loadBalancingRules") or []:
        rp = rule.get("properties") or {}
        pools = [rp.get("backendAddressPool"), *(rp.get("backendAddressPools") or [])]
        if rp.get("probe") and any(p and same_id(p.get("id"), pool_id) for p in pools):
            return True
    return False


def _addresses(pool: Raw) -> list[Raw]:
    return list((pool.get("properties") or {}).get("loadBalancerBackendAddresses") or [])


def admin_state_of(pool: Raw, ipc_id: str) -> str:
    for a in _addresses(pool):
        ap = a.get("properties") or {}
        if same_id((ap.get("networkInterfaceIPConfiguration") or {}).get("id"), ipc_id):
            return str(ap.get("adminState") or "None")
    return "None"


def in_rotation(pool: Raw) -> set[str]:
    """Keys of the ip configurations in the pool whose admin state is not Down."""
    members = {id_key(m["id"]) for m in (pool.get("properties") or {}).get("backendIPConfigurations") or []}
    return {m for m in members if admin_state_of(pool, m) != "Down"}


def set_admin_state(lb: Raw, pool_name: str, ipc_id: str, state: str) -> Raw:
    """A copy of ``lb`` with the NIC member's backend address entry at ``state`` (entry added if not listed)."""
    out = copy.deepcopy(lb)
    pool = _pool(out, pool_name)
    if pool is None:
        raise MaintenanceRefused(f"load balancer {lb.get('name')} has no backend pool {pool_name} any more")
    addrs = pool.setdefault("properties", {}).setdefault("loadBalancerBackendAddresses", [])
    for a in addrs:
        ap = a.setdefault("properties", {})
        if same_id((ap.get("networkInterfaceIPConfiguration") or {}).get("id"), ipc_id):
            ap["adminState"] = state
            return out
    # NRP lists NIC members here; the name of an entry it did not list is not documented (UNCONFIRMED)
    names = ResourceId.parse(ipc_id)
    addrs.append({"name": f"{names.name}", "properties": {"networkInterfaceIPConfiguration": {"id": ipc_id},
                                                           "adminState": state}})
    return out


class Maintenance:
    """``drain``/``restore`` for one VM (CLI ``python -m poolkeeper drain|restore``, ``POST /api/drain|restore``)."""

    def __init__(self, reconciler: Reconciler) -> None:
        self.reconciler = reconciler
        self.config = reconciler.config

    def _vm_nics(self, vm_id: str) -> tuple[ArmGateway, list[Raw]]:
        try:
            rid = ResourceId.parse(vm_id)
        except ValueError as err:
            raise InvalidRequest(f"vmId: {err}") from None
        if not rid.types or rid.types[-1].lower() != "virtualmachines" or len(rid.types) != 1:
            raise InvalidRequest(f"vmId must be a virtual machine id (…/Microsoft.Compute/virtualMachines/<name>), "
                                 f"got {str(rid)[:200]}")
        if not in_scope(rid, self.config.scopes):
            raise Forbidden(f"{str(rid)[:200]} is outside poolkeeper's scopes; nothing was changed")
        gw = self.reconciler.gateway(rid.subscription)
        vm = gw.get_vm(str(rid))
        if vm is None:
            raise NotFound(f"no virtual machine {str(rid)[:200]}")
        refs = ((vm.get("properties") or {}).get("networkProfile") or {}).get("networkInterfaces") or []
        nics = [n for n in (gw.get_nic(r["id"]) for r in refs if r.get("id")) if n is not None]
        return gw, nics

    def drain(self, vm_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        dry_run = dry_run or self.config.dry_run
        gw, nics = self._vm_nics(vm_id)
        plans: list[tuple[Raw, list[Entry]]] = []
        lbs: dict[str, Raw] = {}
        for nic in nics:
            if _tag(nic.get("tags"), DRAIN_TAG):
                return {"vmId": vm_id, "status": "already drained", "dryRun": dry_run,
                        "entries": [e.to_dict() for e in decode_record(str(_tag(nic.get("tags"), DRAIN_TAG)),
                                                                       ResourceId.parse(nic["id"]).subscription)]}
            entries: list[Entry] = []
            for ipc in (nic.get("properties") or {}).get("ipConfigurations") or []:
                for ref in (ipc.get("properties") or {}).get("loadBalancerBackendAddressPools") or []:
                    pool_id = ResourceId.parse(ref["id"])
                    lb_id = str(pool_id.parent)
                    if id_key(lb_id) not in lbs:
                        found = gw.get_load_balancer(lb_id)
                        if found is None:
                            raise MaintenanceRefused(f"load balancer {lb_id} of pool {ref['id']} is not readable")
                        lbs[id_key(lb_id)] = found
                    lb = lbs[id_key(lb_id)]
                    pool = _pool(lb, pool_id.name)
                    if pool is None:
                        continue
                    self._check_minimum(lb, pool, ipc["id"])
                    how = "a" if admin_state_applies(lb, str(pool_id)) else "m"
                    entries.append(Entry(how, str(lb["id"]), str(pool["name"]), str(ipc["name"]),
                                         admin_state_of(pool, ipc["id"]) if how == "a" else "None"))
            if entries:
                plans.append((nic, entries))
        if not plans:
            raise MaintenanceRefused(f"{vm_id.rsplit('/', 1)[-1]} is in no backend pool: nothing to drain")
        for nic, entries in plans:
            if len(encode_record(entries)) > TAG_VALUE_MAX:
                raise MaintenanceRefused(f"NIC {nic['name']} is in too many pools to record the drain in one "
                                         f"{TAG_VALUE_MAX}-character tag; drain it by hand")
        answer = {"vmId": vm_id, "status": "planned" if dry_run else "drained", "dryRun": dry_run,
                  "entries": [e.to_dict() for _, es in plans for e in es]}
        if dry_run:
            return answer
        for nic, entries in plans:
            record = encode_record(entries)
            gone = [e for e in entries if e.how == "m"]
            read_modify_write(nic["id"], gw.get_nic, partial(_nic_drained, record=record, gone=gone), gw.put_nic)
            for e in entries:
                if e.how == "a":
                    ipc_id = f"{nic['id']}/ipConfigurations/{e.ip_configuration}"
                    read_modify_write(e.lb_id, gw.get_load_balancer,
                                      partial(set_admin_state, pool_name=e.pool, ipc_id=ipc_id, state="Down"),
                                      gw.put_load_balancer)
        log.info("drained", extra={"vm": vm_id, "entries": answer["entries"], "correlation_id": gw.correlation_id})
        return answer

    def _check_minimum(self, lb: Raw, pool: Raw, ipc_id: str) -> None:
        minimum = self.config.limits.min_in_rotation
        now = in_rotation(pool)
        after = now - {id_key(ipc_id)}
        if len(after) < minimum and len(after) < len(now):
            raise MaintenanceRefused(
                f"draining it would leave pool {pool.get('name')} of {lb.get('name')} with {len(after)} member(s) "
                f"in rotation, fewer than limits.minInRotation {minimum}; restore another member first")

    def restore(self, vm_id: str, *, dry_run: bool = False) -> dict[str, Any]:
        dry_run = dry_run or self.config.dry_run
        gw, nics = self._vm_nics(vm_id)
        done: list[dict[str, Any]] = []
        for nic in nics:
            raw = _tag(nic.get("tags"), DRAIN_TAG)
            if not raw:
                continue
            try:
                entries = decode_record(raw, ResourceId.parse(nic["id"]).subscription)
            except ValueError as err:
                raise MaintenanceRefused(f"NIC {nic['name']}: unreadable drain record: {err}") from None
            done += [e.to_dict() for e in entries]
            if dry_run:
                continue
            for e in entries:  # the load balancers first: the record goes last, so a crash leaves it for a retry
                if e.how == "a":
                    ipc_id = f"{nic['id']}/ipConfigurations/{e.ip_configuration}"
                    read_modify_write(e.lb_id, gw.get_load_balancer,
                                      partial(set_admin_state, pool_name=e.pool, ipc_id=ipc_id, state=e.previous),
                                      gw.put_load_balancer)
            back = [e for e in entries if e.how == "m"]
            read_modify_write(nic["id"], gw.get_nic, partial(_nic_restored, back=back), gw.put_nic)
        if not done:
            return self._rejoin(vm_id, dry_run=dry_run)
        log.info("restored", extra={"vm": vm_id, "dry_run": dry_run, "correlation_id": gw.correlation_id})
        return {"vmId": vm_id, "status": "planned" if dry_run else "restored", "dryRun": dry_run, "entries": done}


    def _rejoin(self, vm_id: str, *, dry_run: bool) -> dict[str, Any]:
        """A VM that was not drained but taken out of its pool by someone (held: ``RemovedByPerson``): wire it
        again, once, as its binding says (the binding's ``repair`` stays what it is for later runs)."""
        rid = ResourceId.parse(vm_id)
        config = dataclasses.replace(self.config, bindings=tuple(dataclasses.replace(b, repair="always")
                                                                 for b in self.config.bindings))
        once = Reconciler(config, clients=self.reconciler.client_cache)  # the same SDK clients; close() keeps them
        try:
            outcome = once.reconcile(rid.subscription, resource_group=rid.resource_group, only={rid.key},
                                     dry_run=dry_run)
        finally:
            once.close()
        changes = [c.describe() for c in outcome.plan.changes]
        status = ("planned" if dry_run else "restored") if changes else "nothing to restore"
        return {"vmId": vm_id, "status": status, "dryRun": dry_run, "entries": [], "changes": changes}


def _ip_configs(body: Raw) -> list[Raw]:
    return list((body.get("properties") or {}).get("ipConfigurations") or [])


def _nic_drained(body: Raw, record: str, gone: list[Entry]) -> Raw:
    out = copy.deepcopy(body)
    out["tags"] = {**(out.get("tags") or {}), DRAIN_TAG: record}
    for e in gone:
        for ipc in _ip_configs(out):
            if str(ipc.get("name", "")).lower() == e.ip_configuration.lower():
                props = ipc.setdefault("properties", {})
                pools = props.get("loadBalancerBackendAddressPools") or []
                props["loadBalancerBackendAddressPools"] = [p for p in pools if not same_id(p.get("id"), e.pool_id)]
    return out


def _nic_restored(body: Raw, back: list[Entry]) -> Raw:
    out = copy.deepcopy(body)
    out["tags"] = {k: v for k, v in (out.get("tags") or {}).items() if k.lower() != DRAIN_TAG}
    if not out["tags"]:
        del out["tags"]  # a NIC that had no tags before the drain has none after (ARM omits an empty set)
    for e in back:
        for ipc in _ip_configs(out):
            if str(ipc.get("name", "")).lower() == e.ip_configuration.lower():
                pools = ipc.setdefault("properties", {}).setdefault("loadBalancerBackendAddressPools", [])
                if not any(same_id(p.get("id"), e.pool_id) for p in pools):
                    pools.append({"id": e.pool_id})
    return out
