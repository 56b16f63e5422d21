"""Network interfaces: ip configurations in a subnet, joined to load-balancer pools and inbound NAT rules.

The NIC is where load-balancer membership is written (the pool's ``backendIPConfigurations`` and a V1 NAT rule's
``backendIPConfiguration`` are back-references computed from NICs). Refusals, with sources:

- ``InvalidResourceReference`` for a subnet, pool, NAT rule, NSG or public IP that does not exist (see common.py).
- 429 ``RetryableError`` + detail ``ReferencedResourceNotProvisioned`` with Retry-After when a referenced load
  balancer has an operation running (coreos/tectonic-installer#1460, transcribed in the shared reference).
- ``DuplicateIpConfigurationReferenceOnBackendAddressPool`` (Azure/azure-rest-api-specs#10104).
- ``NetworkInterfaceAndLoadBalancerAreInDifferentAvailabilitySets`` for a Basic-SKU pool mixing availability sets
  (kubernetes/kubernetes#58600, message form verbatim).
- ``NetworkInterfacesInBackendAddressPoolMustBeInSameVnet`` for a pool whose members sit in another virtual network.
  The message follows the one published in AutomatedLab/AutomatedLab#57 ("Network interface X uses load balancer Y
  but does not use the same VNET (Z) as other network interfaces already..."); the code is UNCONFIRMED.
- ``CannotMixIPBasedAddressesAndIPConfigurationsOnLoadBalancerBackendAddressPool`` (terraform-provider-azurerm#25962).
- ``DifferentSkuLoadBalancersAndPublicIPAddressNotAllowed`` for a NIC mixing Basic and Standard load balancers or
  public IPs (pivotal-cf/terraforming-azure#41, microsoft/MCW-SAP-NetWeaver-on-Azure#15).
- ``RulesOfSameLoadBalancerTypeUseSameBackendPortProtocolAndIPConfig`` for two rules of same-type load balancers
  sending one protocol and backend port to one ip configuration (hashicorp/terraform#15923; message form
  Azure/azure-powershell#2042).
- ``NicInUse`` on delete while a VM uses the NIC ("Network Interface X is used by existing resource Y..." — packer and
  terraform error dumps).
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError, referenced_resource_not_provisioned
from armsim.network import ipam
from armsim.network.common import (
    NET,
    VM_TYPE,
    decorate_children,
    enum_value,
    invalid_reference,
    ipconfigs_referencing,
    is_internal,
    new_guid,
    prepare_children,
    ref,
    ref_id,
    ref_ids,
    same,
    stored_body,
)
from armsim.network.loadbalancer import find_lb_child, mixed_pool
from armsim.network.nsg import nsg_exists
from armsim.provider import Ctx, Provider, registered
from armsim.store import Record

if TYPE_CHECKING:
    from armsim.engine import Engine
    from armsim.store import Store

NIC_TYPE = f"{NET}/networkInterfaces"
IPCONFIG_TYPE = f"{NIC_TYPE}/ipConfigurations"
IPCONFIG_READONLY = frozenset({"etag", "type", "privateIPAddressPrefixLength"})
# NIC-level fields the server owns; ``virtualMachine`` is written by the compute provider (internal writes only).
NIC_READONLY = frozenset(
    {
        "provisioningState",
        "macAddress",
        "primary",
        "virtualMachine",
        "hostedWorkloads",
        "tapConfigurations",
        "privateEndpoint",
        "dscpConfiguration",
        "vnetEncryptionSupported",
        "resourceGuid",
        "defaultOutboundConnectivityEnabled",
    }
)


@registered
class NetworkInterfaceProvider(Provider):
    type = NIC_TYPE
    children = {"ipConfigurations": "ipConfigurations"}
    read_only_children = frozenset({"ipConfigurations"})

    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        store = ctx.store
        incoming = dict(body.get("properties") or {})
        old = (existing or {}).get("properties", {})
        props = {k: v for k, v in incoming.items() if k not in NIC_READONLY}
        configs = prepare_children(
            resource_id,
            incoming.get("ipConfigurations"),
            "ipConfigurations",
            "properties.ipConfigurations",
            IPCONFIG_READONLY,
        )
        if not configs:
            raise ArmError(
                400,
                "NetworkInterfaceMustHaveAtLeastOneIpConfiguration" if existing else "InvalidRequestFormat",
                f"Network interface {resource_id} must have at least one ip configuration.",
            )
        primaries = [c for c in configs if c["properties"].get("primary")]
        if len(configs) == 1:
            configs[0]["properties"]["primary"] = True
        elif len(primaries) != 1:
            raise ArmError(
                400,
                "NetworkInterfaceMustHaveOnePrimaryIpConfiguration"
                if primaries
                else "NoPrimaryIpConfigurationSpecified",
                f"Network interface {resource_id} with multiple ip configurations must have exactly one "
                f"primary ip configuration.",
            )
        for c in configs:
            c["properties"].setdefault("primary", False)
        nsg = ref_id(props.get("networkSecurityGroup"))
        if nsg is not None:
            canonical = nsg_exists(store, nsg)
            if canonical is None:
                raise invalid_reference(nsg, resource_id)
            props["networkSecurityGroup"] = ref(canonical)
        self._check_busy_load_balancers(ctx, resource_id, configs)
        before = {c["name"].lower(): c["properties"] for c in old.get("ipConfigurations") or []}
        taken: set[str] = set()
        for i, c in enumerate(configs):
            self._prepare_ipconfig(
                ctx,
                resource_id,
                c,
                before.get(c["name"].lower(), {}),
                taken,
                f"properties.ipConfigurations[{i}].properties",
            )
        vm = ref_id(incoming.get("virtualMachine")) if is_internal(ctx) else ref_id(old.get("virtualMachine"))
        _check_skus(store, configs)
        _check_backend_ports(store, configs)
        self._check_pools(ctx, resource_id, configs, vm)
        props["ipConfigurations"] = configs
        props.setdefault("enableAcceleratedNetworking", False)
        props.setdefault("enableIPForwarding", False)
        props.setdefault("disableTcpStateTracking", False)
        props["nicType"] = props.get("nicType") or "Standard"
        dns = props.get("dnsSettings") if isinstance(props.get("dnsSettings"), dict) else {}
        props["dnsSettings"] = {
            "dnsServers": list(dns.get("dnsServers") or []),
            "appliedDnsServers": list(dns.get("dnsServers") or []),
            "internalDomainNameSuffix": old.get("dnsSettings", {}).get("internalDomainNameSuffix")
            or f"{uuid.uuid4().hex[:26]}.dx.internal.cloudapp.net",
        }
        if dns.get("internalDnsNameLabel"):
            props["dnsSettings"]["internalDnsNameLabel"] = dns["internalDnsNameLabel"]
        props["resourceGuid"] = old.get("resourceGuid") or new_guid()
        props["vnetEncryptionSupported"] = False
        if vm is not None:
            props["virtualMachine"] = ref(vm)
            props["primary"] = (
                bool(old.get("primary", True))
                if not is_internal(ctx)
                else bool(incoming.get("primary", old.get("primary", True)))
            )
            if old.get("macAddress") or is_internal(ctx):
                props["macAddress"] = old.get("macAddress") or incoming.get("macAddress") or _mac(resource_id)
        return stored_body(body, props)

    def _check_busy_load_balancers(self, ctx: Ctx, nic_id: str, configs: list[dict[str, Any]]) -> None:
        for c in configs:
            for target in ref_ids(c["properties"].get("loadBalancerBackendAddressPools")) + ref_ids(
                c["properties"].get("loadBalancerInboundNatRules")
            ):
                lb_id = ids.parent_id(target)
                op = ctx.engine.is_busy(lb_id)
                if op is None:
                    continue
                lb = ctx.store.get(lb_id)
                deleting = op.kind == "delete"
                raise referenced_resource_not_provisioned(
                    lb.id if lb else lb_id, f"{nic_id}/ipConfigurations/{c['name']}", op.due - _now(),
                    ctx.engine.config.time_scale, state="Deleting" if deleting else "Updating",
                    operation="DeleteLoadBalancerOperation" if deleting else "PutLoadBalancerOperation",
                )

    def _prepare_ipconfig(
        self, ctx: Ctx, nic_id: str, c: dict[str, Any], prev: dict[str, Any], taken: set[str], path: str
    ) -> None:
        store = ctx.store
        p = c["properties"]
        ipc_id = c["id"]
        p["privateIPAllocationMethod"] = enum_value(
            p.get("privateIPAllocationMethod") or "Dynamic",
            ("Static", "Dynamic"),
            f"{path}.privateIPAllocationMethod",
            "IPAllocationMethod",
        )
        p["privateIPAddressVersion"] = enum_value(
            p.get("privateIPAddressVersion") or "IPv4", ("IPv4", "IPv6"), f"{path}.privateIPAddressVersion", "IPVersion"
        )
        subnet = ref_id(p.get("subnet"))
        if subnet is None:
            raise ArmError(400, "InvalidRequestFormat", f"IP configuration {ipc_id} needs a subnet reference.")
        if not ipam.subnet_exists(store, subnet):
            raise invalid_reference(subnet, ipc_id)
        if p["privateIPAllocationMethod"] == "Static" and p.get("privateIPAddress"):
            p["privateIPAddress"] = ipam.check_static_private(
                store, subnet, p["privateIPAddress"], nic_id, taken, ipc_id
            )
        elif same(ref_id(prev.get("subnet")), subnet) and prev.get("privateIPAddress"):
            p["privateIPAddress"] = prev["privateIPAddress"]
        else:
            p["privateIPAddress"] = ipam.allocate_private(store, subnet, nic_id, taken, ipc_id)
        taken.add(p["privateIPAddress"])
        pip = ref_id(p.get("publicIPAddress"))
        if pip is not None:
            rec = store.get(pip)
            if rec is None or rec.type.lower() != f"{NET}/publicIPAddresses".lower():
                raise invalid_reference(pip, ipc_id)
            p["publicIPAddress"] = ref(rec.id)
        for key, coll in (
            ("loadBalancerBackendAddressPools", "backendAddressPools"),
            ("loadBalancerInboundNatRules", "inboundNatRules"),
        ):
            targets = ref_ids(p.get(key))
            seen: set[str] = set()
            out = []
            for t in targets:
                found = find_lb_child(store, t)
                if found is None or found[1].lower() != coll.lower():
                    raise invalid_reference(t, ipc_id)
                if ids.key(t) in seen:
                    if coll == "backendAddressPools":
                        raise ArmError(
                            400,
                            "DuplicateIpConfigurationReferenceOnBackendAddressPool",
                            f"IP configuration {ipc_id} is referenced more than once by backend address pool "
                            f"{found[2]['id']}.",
                        )
                    continue
                seen.add(ids.key(t))
                out.append(ref(found[2]["id"]))
            if key in p or out:
                p[key] = out

    def _check_pools(self, ctx: Ctx, nic_id: str, configs: list[dict[str, Any]], vm: str | None) -> None:
        """Vnet, availability-set and pool-kind constraints for every pool the NIC joins."""
        store = ctx.store
        for c in configs:
            p = c["properties"]
            my_vnet = ids.parent_id(ref_id(p["subnet"]) or "")
            for pool_id in ref_ids(p.get("loadBalancerBackendAddressPools")):
                lb, _coll, pool = find_lb_child(store, pool_id)  # type: ignore[misc]
                addresses = pool.get("properties", {}).get("loadBalancerBackendAddresses") or []
                if any(a.get("properties", {}).get("ipAddress") for a in addresses):
                    raise mixed_pool(pool["id"])
                members = [
                    m
                    for m in ipconfigs_referencing(store, pool["id"], "loadBalancerBackendAddressPools")
                    if ids.key(m[2].id) != ids.key(nic_id)
                ]
                for _mid, mp, _mrec in members:
                    other_vnet = ids.parent_id(ref_id(mp.get("subnet")) or "")
                    if other_vnet and ids.key(other_vnet) != ids.key(my_vnet):
                        raise ArmError(
                            400,
                            "NetworkInterfacesInBackendAddressPoolMustBeInSameVnet",
                            f"Network interface {nic_id} uses load balancer {lb.id} but does not use the same VNET "
                            f"({other_vnet}) as other network interfaces already in backend address pool {pool['id']}.",
                        )
                if str(lb.body.get("sku", {}).get("name", "Basic")).lower() == "basic" and vm is not None:
                    _refuse_other_availability_sets(store, nic_id, lb.id, [m[2] for m in members], vm,
                                                    _availability_set(store, vm))

    def check_delete(self, ctx: Ctx, record: Record) -> None:
        vm = ref_id(record.body.get("properties", {}).get("virtualMachine"))
        if vm is not None and ctx.store.get(vm) is not None:
            raise ArmError(
                400,
                "NicInUse",
                f"Network Interface {record.id} is used by existing resource {vm}. In order to delete the network "
                f"interface, it must be dissociated from the resource. To learn more, see aka.ms/deletenic.",
            )

    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        decorate_children(body, "ipConfigurations", IPCONFIG_TYPE)
        return body


def _sku(rec: Record) -> str:
    return str((rec.body.get("sku") or {}).get("name", "Basic"))


def _check_skus(store: Store, configs: list[dict[str, Any]]) -> None:
    """One NIC cannot mix Basic and Standard load balancers and public IPs.

    ``DifferentSkuLoadBalancersAndPublicIPAddressNotAllowed``: "Different basic sku and standard sku load balancer or
    public Ip resources in availability set is not allowed X and Y." (error bodies in pivotal-cf/terraforming-azure#41
    and microsoft/MCW-SAP-NetWeaver-on-Azure#15, the latter from a NIC update). Azure applies it across an
    availability set; armsim checks what one NIC references.
    """
    seen: list[tuple[str, str]] = []  # (sku, resource id)
    for c in configs:
        p = c["properties"]
        for target in ref_ids(p.get("loadBalancerBackendAddressPools")) + ref_ids(p.get("loadBalancerInboundNatRules")):
            lb = store.get(ids.parent_id(target))
            if lb is not None:
                seen.append((_sku(lb), lb.id))
        pip = store.get(ref_id(p.get("publicIPAddress")) or "")
        if pip is not None:
            seen.append((_sku(pip), pip.id))
    for sku, rid in seen[1:]:
        if sku.lower() != seen[0][0].lower():
            raise ArmError(
                400,
                "DifferentSkuLoadBalancersAndPublicIPAddressNotAllowed",
                f"Different basic sku and standard sku load balancer or public Ip resources in availability set is not "
                f"allowed {seen[0][1]} and {rid}.",
            )


def _overlap(a: str, b: str) -> bool:
    return a.lower() == b.lower() or "all" in (a.lower(), b.lower())


def _frontend_kind(lb: Record | None, rule_props: dict[str, Any]) -> str:
    """"public" or "internal": the type of the frontend a rule listens on (a public IP/prefix, or a subnet)."""
    fe_id = ref_id(rule_props.get("frontendIPConfiguration"))
    for fe in ((lb.body.get("properties") or {}).get("frontendIPConfigurations") or []) if lb is not None else []:
        if fe_id is not None and str(fe.get("name", "")).lower() == ids.name_of(fe_id).lower():
            fp = fe.get("properties") or {}
            return "internal" if ref_id(fp.get("subnet")) is not None else "public"
    return "public"


def _check_backend_ports(store: Store, configs: list[dict[str, Any]]) -> None:
    """Two rules of load balancers of the same type (public or internal) may not send the same protocol and backend
    port to one ip configuration (floating IP disabled).

    The rules an ip configuration receives: load-balancing rules and NAT rules V2 on the pools it joins (from any
    load balancer), and the V1 NAT rules it names. Code
    ``RulesOfSameLoadBalancerTypeUseSameBackendPortProtocolAndIPConfig`` from a NIC CreateOrUpdate refused over a
    NAT rule (hashicorp/terraform#15923; its scale-set sibling
    ``...AndVmssIPConfig`` is quoted in MicrosoftDocs/azure-docs#76703). Message form from Azure/azure-powershell#2042:
    "Load balancer rules X and Y use the same backend port (22) and protocol (Tcp), and must not be used with the same
    backend ip (<ip configuration>)". Issue 15 named the code ``RulesUseSameBackendPortProtocolAndIPConfig``; no
    public error body carries that name, so armsim answers the confirmed one.
    """
    for c in configs:
        p = c["properties"]
        claims: list[tuple[str, int, str, str]] = []  # (protocol, backend port, rule id, LB type)

        def claim(lb: Record | None, rule: dict[str, Any], claims: list[tuple[str, int, str, str]] = claims) -> None:
            rp = rule.get("properties") or {}
            if not rp.get("enableFloatingIP"):
                claims.append((str(rp.get("protocol")), int(rp.get("backendPort", 0)), rule["id"],
                               _frontend_kind(lb, rp)))

        for pool_id in ref_ids(p.get("loadBalancerBackendAddressPools")):
            lb = store.get(ids.parent_id(pool_id))
            lbp = (lb.body.get("properties") or {}) if lb is not None else {}
            for rule in lbp.get("loadBalancingRules") or []:
                rp = rule.get("properties") or {}
                single = ref_id(rp.get("backendAddressPool"))
                pools = ref_ids(rp.get("backendAddressPools")) + ([single] if single else [])
                if any(same(pool_id, x) for x in pools):
                    claim(lb, rule)
            for rule in lbp.get("inboundNatRules") or []:
                if same(ref_id((rule.get("properties") or {}).get("backendAddressPool")), pool_id):
                    claim(lb, rule)
        for rule_id in ref_ids(p.get("loadBalancerInboundNatRules")):
            found = find_lb_child(store, rule_id)
            if found is not None:
                claim(found[0], found[2])
        for i, a in enumerate(claims):
            for b in claims[i + 1 :]:
                if a[1] == b[1] and _overlap(a[0], b[0]) and a[3] == b[3] and not same(a[2], b[2]):
                    raise ArmError(
                        400,
                        "RulesOfSameLoadBalancerTypeUseSameBackendPortProtocolAndIPConfig",
                        f"Load balancer rules {a[2]} and {b[2]} use the same backend port ({b[1]}) and protocol "
                        f"({b[0]}), and must not be used with the same backend ip ({c['id']}).",
                    )


def check_vm_joins_basic_pools(store: Store, nic: Record, vm_id: str, avset_id: str | None) -> None:
    """For the compute provider, before a VM is written: its NIC's Basic-SKU pools must not hold VMs of another
    availability set (or of none when it has one). Same refusal as a NIC PUT
    (``NetworkInterfaceAndLoadBalancerAreInDifferentAvailabilitySets``, kubernetes/kubernetes#58600), raised before
    anything is stored, so a refused VM PUT changes nothing."""
    for c in (nic.body.get("properties") or {}).get("ipConfigurations") or []:
        for pool_id in ref_ids((c.get("properties") or {}).get("loadBalancerBackendAddressPools")):
            found = find_lb_child(store, pool_id)
            if found is None or _sku(found[0]).lower() != "basic":
                continue
            lb, _coll, pool = found
            members = [m[2] for m in ipconfigs_referencing(store, pool["id"], "loadBalancerBackendAddressPools")
                       if ids.key(m[2].id) != ids.key(nic.id)]
            _refuse_other_availability_sets(store, nic.id, lb.id, members, vm_id, avset_id)


def _refuse_other_availability_sets(store: Store, nic_id: str, lb_id: str, members: list[Record], vm_id: str,
                                    avset_id: str | None) -> None:
    """A Basic load balancer's pool serves the VMs of one availability set (or of none): refuse ``nic_id`` joining
    it for ``vm_id`` (in ``avset_id``) when another member NIC's VM is elsewhere. ``members``: the pool's other NICs.
    ``NetworkInterfaceAndLoadBalancerAreInDifferentAvailabilitySets`` (kubernetes/kubernetes#58600)."""
    for mrec in members:
        other_vm = ref_id(mrec.body.get("properties", {}).get("virtualMachine"))
        if other_vm is None or same(other_vm, vm_id):
            continue
        theirs = _availability_set(store, other_vm)
        if (avset_id or "").lower() != (theirs or "").lower():
            raise ArmError(
                400,
                "NetworkInterfaceAndLoadBalancerAreInDifferentAvailabilitySets",
                f"Network interface {nic_id} uses load balancer {lb_id} associated with different "
                f"availability set ({theirs or 'none'}) than the one of virtual machine {vm_id} "
                f"({avset_id or 'none'}). A Basic load balancer's backend pool can serve virtual machines of "
                f"a single availability set.",
            )


def _availability_set(store: Store, vm_id: str) -> str | None:
    rec = store.get(vm_id)
    if rec is None or rec.type.lower() != VM_TYPE.lower():
        return None
    return ref_id(rec.body.get("properties", {}).get("availabilitySet"))


def _mac(nic_id: str) -> str:
    h = uuid.uuid5(uuid.NAMESPACE_URL, nic_id.lower()).hex[:10].upper()
    return "00-0D-" + "-".join(h[i : i + 2] for i in range(0, 8, 2))


def _now() -> float:
    import time

    return time.monotonic()


def set_nic_virtual_machine(engine: Engine, nic_id: str, vm_id: str | None) -> None:
    """For the compute provider: attach (or detach, with None) a NIC to a VM — the read-only ``virtualMachine``.

    Changes the stored NIC directly (new etag, like NRP's own update), without validation or events.
    """
    rec = engine.store.get(nic_id)
    if rec is None:
        raise invalid_reference(nic_id, vm_id or nic_id)
    body = copy.deepcopy(rec.body)
    props = body.setdefault("properties", {})
    if vm_id is None:
        for k in ("virtualMachine", "macAddress", "primary"):
            props.pop(k, None)
    else:
        props["virtualMachine"] = ref(vm_id)
        props.setdefault("primary", True)
        props["macAddress"] = props.get("macAddress") or _mac(rec.id)
    if body.get("etag") is not None:
        body["etag"] = f'W/"{uuid.uuid4()}"'
    engine.store.put(Record(rec.id, rec.type, body, busy_op=rec.busy_op, meta=dict(rec.meta)))
    engine.on_change()
