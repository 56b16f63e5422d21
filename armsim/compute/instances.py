"""Uniform scale-set instances and their NICs: creating, updating to the model, and removing them.

The scale set's ``virtualMachineProfile`` is the *model*; each instance records in ``networkProfileConfiguration``
the network part of the model it last had applied, and owns one NIC per NIC configuration, stored as a
``Microsoft.Network/networkInterfaces`` record under ``.../virtualMachineScaleSets/{vmss}/virtualMachines/{i}/
networkInterfaces/{config}`` so that the load balancer's back-references and the reference index see it.

A NAT pool in an instance's applied configuration materialises as the load balancer's inbound NAT rule
``{pool}.{instanceId}``, maintained through the network provider's ``set_natpool_rules``; the instance NIC's IP
configuration lists that rule in ``loadBalancerInboundNatRules``.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from armsim import ids
from armsim.compute.common import (
    NIC_TYPE,
    VMSS_VM_TYPE,
    VNET_TYPE,
    ip_configs,
    materialise_disks,
    new_guid,
    nic_configs,
    props,
    ref_ids,
    utcnow,
)
from armsim.compute.lbwiring import NatKey, natpool_keys
from armsim.errors import ArmError
from armsim.provider import Ctx
from armsim.store import Record

# What an instance keeps of the model besides the network part (copied when the model is applied).
_MODEL_PARTS = ("storageProfile", "diagnosticsProfile", "securityProfile", "licenseType", "userData")


def instances_of(ctx: Ctx, vmss_id: str) -> list[Record]:
    """The scale set's instance records, by numeric instance id."""
    prefix = ids.key(vmss_id) + "/virtualmachines/"
    out = [r for r in ctx.store.of_type(VMSS_VM_TYPE) if ids.key(r.id).startswith(prefix)]
    out.sort(key=lambda r: int(ids.name_of(r.id)) if ids.name_of(r.id).isdigit() else 0)
    return out


def applied_configs(rec: Record | None) -> list[dict[str, Any]] | None:
    """The NIC configurations an instance currently has (None for an instance that does not exist)."""
    if rec is None:
        return None
    return nic_configs({"networkProfile": rec.body.get("properties", {}).get("networkProfileConfiguration") or {}})


def nic_id(instance_id: str, cfg_name: str) -> str:
    return f"{instance_id}/networkInterfaces/{cfg_name}"


def natpool_members(instance_id: str, cfgs: list[dict[str, Any]] | None) -> dict[NatKey, str]:
    """NAT pools an instance with these NIC configurations is in -> the IP configuration id serving each."""
    out: dict[NatKey, str] = {}
    for cfg, ipc in ip_configs(cfgs or []):
        ipc_id = f"{nic_id(instance_id, cfg['name'])}/ipConfigurations/{ipc['name']}"
        for pid in ref_ids((ipc.get("properties") or {}).get("loadBalancerInboundNatPools")):
            out.setdefault((ids.key(ids.parent_id(pid)), ids.name_of(pid).lower()), ipc_id)
    return out


def natpool_demand(ctx: Ctx, after: Iterable[list[dict[str, Any]]]) -> dict[NatKey, int]:
    """How many instances need a port of each NAT pool, given every instance's configurations after an operation."""
    demand: dict[NatKey, int] = {}
    for cfgs in after:
        for k in natpool_keys(cfgs):
            demand[k] = demand.get(k, 0) + 1
    return demand


# --------------------------------------------------------------------------------------------------- NIC records
def _subnet_prefix(ctx: Ctx, subnet_id: str) -> ipaddress.IPv4Network | None:
    vnet = ctx.store.get(ids.parent_id(subnet_id))
    if vnet is None or vnet.type != VNET_TYPE:
        return None
    for s in (vnet.body.get("properties") or {}).get("subnets") or []:
        if str(s.get("name", "")).lower() == ids.name_of(subnet_id).lower():
            sp = s.get("properties") or {}
            prefix = sp.get("addressPrefix") or (sp.get("addressPrefixes") or [None])[0]
            try:
                return ipaddress.IPv4Network(prefix, strict=False) if prefix else None
            except ValueError:
                return None
    return None


def _allocate_ip(ctx: Ctx, subnet_id: str | None, taken: set[str], nic: str = "") -> str:
    """The next free address of the subnet (Azure reserves the first four), as the network provider would assign."""
    if subnet_id:
        try:
            from armsim.network.ipam import allocate_private
        except ImportError:
            allocate_private = None  # type: ignore[assignment]
        if allocate_private is not None and _subnet_prefix(ctx, subnet_id) is not None:
            addr = str(allocate_private(ctx.store, subnet_id, nic, taken, nic))
            taken.add(addr)
            return addr
    net = _subnet_prefix(ctx, subnet_id) if subnet_id else None
    used = set(taken)
    if subnet_id:
        for r in ctx.store.referrers(subnet_id):
            for ipc in (r.body.get("properties") or {}).get("ipConfigurations") or []:
                addr = (ipc.get("properties") or {}).get("privateIPAddress")
                if addr:
                    used.add(addr)
    hosts = net.hosts() if net is not None else ipaddress.IPv4Network("10.0.0.0/16").hosts()
    for i, host in enumerate(hosts):
        if i < 3:
            continue
        if str(host) not in used:
            taken.add(str(host))
            return str(host)
    raise ArmError(400, "SubnetIsFull", f"Subnet {subnet_id} has no free IP address left for a new instance NIC.")


def _mac() -> str:
    h = new_guid().replace("-", "")[:6].upper()
    return "00-0D-3A-" + "-".join(h[i : i + 2] for i in range(0, 6, 2))


def build_nic(
    ctx: Ctx, vmss: Record, instance_id: str, cfg: dict[str, Any], previous: Record | None,
    rules_for: Callable[[str, str], list[str]], taken: set[str],
) -> Record:
    """The instance NIC record for one NIC configuration (addresses and MAC kept from ``previous``)."""
    nid = nic_id(instance_id, cfg["name"])
    cp = cfg.get("properties") or {}
    prev_ipcs = {str(i.get("name", "")).lower(): i for i in (previous.body.get("properties", {}) if previous else {})
                 .get("ipConfigurations") or []}
    ipcs = []
    for n, ipc in enumerate(cp.get("ipConfigurations") or []):
        ip = ipc.get("properties") or {}
        ipc_id = f"{nid}/ipConfigurations/{ipc['name']}"
        subnet = (ip.get("subnet") or {}).get("id")
        old = (prev_ipcs.get(str(ipc["name"]).lower()) or {}).get("properties") or {}
        addr = old.get("privateIPAddress") if old.get("subnet", {}).get("id") == subnet and old.get(
            "privateIPAddress") else _allocate_ip(ctx, subnet, taken, nid)
        ipc_props: dict[str, Any] = {
            "provisioningState": "Succeeded",
            "privateIPAddress": addr,
            "privateIPAllocationMethod": "Dynamic",
            "primary": bool(ip.get("primary", n == 0)),
            "privateIPAddressVersion": ip.get("privateIPAddressVersion", "IPv4"),
        }
        if subnet:
            ipc_props["subnet"] = {"id": subnet}
        pools = ref_ids(ip.get("loadBalancerBackendAddressPools"))
        if pools:
            ipc_props["loadBalancerBackendAddressPools"] = [{"id": p} for p in pools]
        rules = rules_for(cfg["name"], ipc["name"])
        if rules:
            ipc_props["loadBalancerInboundNatRules"] = [{"id": r} for r in rules]
        ipcs.append({"name": ipc["name"], "id": ipc_id, "etag": f'W/"{new_guid()}"',
                     "type": f"{NIC_TYPE}/ipConfigurations", "properties": ipc_props})
    prev_props = previous.body.get("properties", {}) if previous else {}
    body: dict[str, Any] = {
        "name": cfg["name"],
        "id": nid,
        "etag": f'W/"{new_guid()}"',
        "type": NIC_TYPE,
        "location": vmss.body.get("location"),
        "properties": {
            "provisioningState": "Succeeded",
            "resourceGuid": prev_props.get("resourceGuid") or new_guid(),
            "ipConfigurations": ipcs,
            "dnsSettings": {
                "dnsServers": list((cp.get("dnsSettings") or {}).get("dnsServers") or []),
                "appliedDnsServers": [],
                "internalDomainNameSuffix": (prev_props.get("dnsSettings") or {}).get("internalDomainNameSuffix")
                or f"{new_guid().replace('-', '')[:26]}.dx.internal.cloudapp.net",
            },
            "macAddress": prev_props.get("macAddress") or _mac(),
            "enableAcceleratedNetworking": bool(cp.get("enableAcceleratedNetworking", False)),
            "enableIPForwarding": bool(cp.get("enableIPForwarding", False)),
            "primary": bool(cp.get("primary", True)),
            "virtualMachine": {"id": instance_id},
        },
    }
    nsg = (cp.get("networkSecurityGroup") or {}).get("id")
    if nsg:
        body["properties"]["networkSecurityGroup"] = {"id": nsg}
    return Record(nid, NIC_TYPE, body)


def _write_nics(
    ctx: Ctx, vmss: Record, instance_id: str, old: list[dict[str, Any]] | None, new: list[dict[str, Any]] | None,
    rules_for: Callable[[str, str], list[str]], taken: set[str],
) -> list[str]:
    """Make the instance's NIC records match ``new``; returns their ids (primary first)."""
    wanted = {str(c["name"]).lower() for c in new or []}
    for c in old or []:
        if str(c["name"]).lower() not in wanted:
            ctx.store.remove(nic_id(instance_id, c["name"]))
    out = []
    for cfg in new or []:
        rec = build_nic(ctx, vmss, instance_id, cfg, ctx.store.get(nic_id(instance_id, cfg["name"])), rules_for, taken)
        ctx.store.put(rec)
        out.append(rec.id)
    return out


# --------------------------------------------------------------------------------------------------- the sync
Change = tuple[str, list[dict[str, Any]] | None, list[dict[str, Any]] | None]  # (instance id, old cfgs, new cfgs)


def sync_network(ctx: Ctx, vmss: Record, changes: list[Change]) -> dict[str, list[str]]:
    """Move instances' NICs and NAT rules from their old to their new NIC configurations.

    Order matters to the load balancer: NICs first drop references to rules that are going away, then the rules are
    removed and created (one ``set_natpool_rules`` call per pool), then NICs reference the new rules. Returns each
    instance's NIC ids.
    """
    members: dict[NatKey, dict[str, str | None]] = {}
    finals: dict[str, dict[NatKey, str]] = {}
    kept: dict[str, set[NatKey]] = {}
    for inst_id, old, new in changes:
        n = ids.name_of(inst_id)
        before, after = natpool_members(inst_id, old), natpool_members(inst_id, new)
        for k, ipc in before.items():
            if after.get(k) != ipc:
                members.setdefault(k, {})[n] = None
        for k, ipc in after.items():
            if before.get(k) != ipc:
                members.setdefault(k, {})[n] = ipc
        finals[inst_id] = after
        kept[inst_id] = {k for k, v in after.items() if before.get(k) == v}
    taken: set[str] = set()
    lb_names = _lb_ids(ctx, members)

    def rules(inst_id: str, allowed: set[NatKey] | None) -> Callable[[str, str], list[str]]:
        def pick(cfg_name: str, ipc_name: str) -> list[str]:
            want = f"{nic_id(inst_id, cfg_name)}/ipConfigurations/{ipc_name}".lower()
            return [
                f"{lb_names.get(k[0], k[0])}/inboundNatRules/{_pool_name(ctx, k)}.{ids.name_of(inst_id)}"
                for k, ipc in sorted(finals[inst_id].items())
                if ipc.lower() == want and (allowed is None or k in allowed)
            ]
        return pick

    for inst_id, old, new in changes:
        _write_nics(ctx, vmss, inst_id, old, new, rules(inst_id, kept[inst_id]), taken)
    if members:
        from armsim.network.loadbalancer import set_natpool_rules  # the network provider owns NAT rules

        for k, m in sorted(members.items()):
            set_natpool_rules(ctx.engine, lb_names.get(k[0], k[0]), _pool_name(ctx, k), m)
    out: dict[str, list[str]] = {}
    for inst_id, _old, new in changes:
        if new is not None:
            out[inst_id] = _write_nics(ctx, vmss, inst_id, new, new, rules(inst_id, None), taken)
    return out


def _lb_ids(ctx: Ctx, members: dict[NatKey, Any]) -> dict[str, str]:
    """Stored-casing ids of the load balancers behind NAT keys (keys are lower case)."""
    out = {}
    for lb_key, _ in members:
        rec = ctx.store.get(lb_key)
        out[lb_key] = rec.id if rec else lb_key
    return out


def _pool_name(ctx: Ctx, k: NatKey) -> str:
    rec = ctx.store.get(k[0])
    for pool in (rec.body.get("properties") or {}).get("inboundNatPools") or [] if rec else []:
        if str(pool.get("name", "")).lower() == k[1]:
            return str(pool["name"])
    return k[1]


# --------------------------------------------------------------------------------------------------- instances
def computer_name(prefix: str, n: int) -> str:
    """``{computerNamePrefix}{instance id in base 36, 6 digits}`` as Uniform scale sets name their machines."""
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    s = ""
    while True:
        n, r = divmod(n, 36)
        s = digits[r] + s
        if n == 0:
            break
    return prefix + s.rjust(6, "0")


def instance_body(vmss: Record, instance_id: str, nic_ids: list[str], previous: Record | None,
                  provisioning: str) -> dict[str, Any]:
    """An instance's stored body with the scale set's current model applied."""
    vp = vmss.body.get("properties", {})
    profile = copy.deepcopy(vp.get("virtualMachineProfile") or {})
    n = int(ids.name_of(instance_id))
    prev_props = previous.body.get("properties", {}) if previous else {}
    os_profile = copy.deepcopy(profile.get("osProfile") or {})
    prefix = os_profile.pop("computerNamePrefix", None) or vmss.body.get("name", "vm")[:9]
    os_profile.pop("adminPassword", None)
    os_profile.pop("customData", None)
    os_profile["computerName"] = prev_props.get("osProfile", {}).get("computerName") or computer_name(prefix, n)
    p: dict[str, Any] = {
        "latestModelApplied": True,
        "modelDefinitionApplied": "VirtualMachineScaleSet",
        "vmId": prev_props.get("vmId") or new_guid(),
        "hardwareProfile": {},
        "osProfile": os_profile,
        "networkProfile": {
            "networkInterfaces": [{"id": i} for i in nic_ids],
        },
        "networkProfileConfiguration": {
            "networkInterfaceConfigurations": copy.deepcopy(nic_configs(profile)),
        },
        "provisioningState": provisioning,
        "timeCreated": prev_props.get("timeCreated") or utcnow(),
    }
    for part in _MODEL_PARTS:
        if part in profile:
            p[part] = copy.deepcopy(profile[part])
    os_profile.setdefault("allowExtensionOperations", True)
    os_profile.setdefault("requireGuestProvisionSignal", True)
    rg_base = vmss.id.split("/providers/")[0] + "/providers"
    vmss_name = str(vmss.body.get("name"))
    materialise_disks(p, rg_base, f"{vmss_name}_{vmss_name}_{n}", prev_props)
    if "protectionPolicy" in prev_props:
        p["protectionPolicy"] = prev_props["protectionPolicy"]
    body: dict[str, Any] = {
        "name": f"{vmss.body.get('name')}_{n}",
        "id": instance_id,
        "type": "Microsoft.Compute/virtualMachines",
        "location": vmss.body.get("location"),
        "instanceId": str(n),
        "sku": {k: v for k, v in (vmss.body.get("sku") or {}).items() if k in ("name", "tier")},
        "properties": p,
    }
    tags = previous.body.get("tags") if previous else vmss.body.get("tags")
    if tags:
        body["tags"] = copy.deepcopy(tags)
    if vmss.body.get("zones"):
        body["zones"] = [vmss.body["zones"][n % len(vmss.body["zones"])]]
    body["etag"] = f'"{int(previous.meta.get("etag_n", 0)) + 1 if previous else 1}"'
    return body


def put_instance(ctx: Ctx, vmss: Record, instance_id: str, nic_ids: list[str], provisioning: str) -> Record:
    previous = ctx.store.get(instance_id)
    body = instance_body(vmss, instance_id, nic_ids, previous, provisioning)
    meta = dict(previous.meta) if previous else {"power": "starting" if provisioning == "Creating" else "running"}
    meta["etag_n"] = int(meta.get("etag_n", 0)) + 1
    meta["model_version"] = int(vmss.meta.get("model_version", 1))
    rec = Record(instance_id, VMSS_VM_TYPE, body, busy_op=previous.busy_op if previous else None, meta=meta)
    ctx.store.put(rec)
    return rec


def apply_model(ctx: Ctx, vmss: Record, targets: list[Record], provisioning: str = "Succeeded") -> None:
    """Bring existing instances up to the scale set's model (their NICs, NAT rules and applied configuration)."""
    model_cfgs = nic_configs(vmss.body.get("properties", {}).get("virtualMachineProfile"))
    changes: list[Change] = [(r.id, applied_configs(r), copy.deepcopy(model_cfgs)) for r in targets]
    nics = sync_network(ctx, vmss, changes)
    for r in targets:
        put_instance(ctx, vmss, r.id, nics.get(r.id, []), provisioning)


def create_instances(ctx: Ctx, vmss: Record, count: int, provisioning: str) -> list[Record]:
    """New instances at the model, with instance ids continuing from the highest ever used."""
    model_cfgs = nic_configs(vmss.body.get("properties", {}).get("virtualMachineProfile"))
    start = int(vmss.meta.get("next_instance_id", 0))
    vmss.meta["next_instance_id"] = start + count
    new_ids = [f"{vmss.id}/virtualMachines/{start + i}" for i in range(count)]
    nics = sync_network(ctx, vmss, [(i, None, copy.deepcopy(model_cfgs)) for i in new_ids])
    return [put_instance(ctx, vmss, i, nics.get(i, []), provisioning) for i in new_ids]


def remove_instances(ctx: Ctx, vmss: Record, targets: list[Record], *, already_gone: bool = False) -> None:
    """Delete instances with their NICs and NAT rules."""
    sync_network(ctx, vmss, [(r.id, applied_configs(r), None) for r in targets])
    if not already_gone:
        for r in targets:
            ctx.store.remove(r.id)


def mark_stale(ctx: Ctx, vmss: Record) -> None:
    """After a model change: every instance reports ``latestModelApplied: false`` until the model is applied."""
    for r in instances_of(ctx, vmss.id):
        if props(r.body).get("latestModelApplied") is not False:
            r.body["properties"]["latestModelApplied"] = False
