"""Typed, read-only views over raw ARM JSON, and the :class:`Snapshot` the planner works on.

The views parse only what the planner needs and keep the untouched response in ``.raw``: the executor must PUT the
full resource back (read-modify-write with the ETag), and anything poolkeeper does not understand has to survive
that round trip unchanged. ARM omits empty collections and optional references, so every accessor tolerates missing
keys.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, cast

from poolkeeper.flexrecord import parse_time
from poolkeeper.ids import id_key, parent_key, scale_set_of

Raw = Mapping[str, Any]
Body = dict[str, Any]  # a raw body a workflow edits copies of (ARM JSON objects are dicts)


def _get(raw: Any, *path: str) -> Any:
    """Walk nested dicts, returning None at the first missing key."""
    cur = raw
    for p in path:
        if not isinstance(cur, Mapping):
            return None
        cur = cur.get(p)
    return cur


def _ref(raw: Any, *path: str) -> str | None:
    """An ``{"id": ...}`` reference at path, or None."""
    value = _get(raw, *path, "id")
    return value if isinstance(value, str) and value else None


def _refs(raw: Any, *path: str) -> tuple[str, ...]:
    """A list of ``{"id": ...}`` references at path (missing → empty)."""
    items = _get(raw, *path)
    if not isinstance(items, list):
        return ()
    return tuple(i["id"] for i in items if isinstance(i, Mapping) and isinstance(i.get("id"), str))


def _list(raw: Any, *path: str) -> list[Mapping[str, Any]]:
    items = _get(raw, *path)
    return [i for i in items if isinstance(i, Mapping)] if isinstance(items, list) else []


def _tags(raw: Raw) -> dict[str, str]:
    tags = raw.get("tags")
    return {str(k): str(v) for k, v in tags.items()} if isinstance(tags, Mapping) else {}


def _bool(value: Any) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def resource_group_of(resource_id: str) -> str:
    """The resource group name (original casing) of an id, '' if none."""
    segs = resource_id.strip("/").split("/")
    for i, s in enumerate(segs[:-1]):
        if s.lower() == "resourcegroups":
            return segs[i + 1]
    return ""


# -- compute ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Vm:
    """A virtual machine (standalone, in an availability set, or a Flexible scale-set instance)."""

    id: str
    name: str
    resource_group: str
    location: str
    tags: Mapping[str, str]
    availability_set_id: str | None
    scale_set_id: str | None
    nic_ids: tuple[str, ...]
    provisioning_state: str | None
    raw: Raw = field(repr=False, compare=False)
    # ``properties.timeCreated``: "Specifies the time at which the Virtual Machine resource was created. Minimum
    # api-version: 2021-11-01" (azure-mgmt-compute, VirtualMachine.time_created; read-only). Tells a Flexible member
    # created wired by its model from one created before (``poolkeeper.flexrecord``)
    time_created: datetime | None = None

    @classmethod
    def from_arm(cls, raw: Raw) -> Vm:
        nics = _list(raw, "properties", "networkProfile", "networkInterfaces")
        # Primary first; a single NIC is primary even when ARM leaves the flag out. sorted() is stable.
        ordered = sorted(nics, key=lambda n: 0 if (_get(n, "properties", "primary") is True or len(nics) == 1)
                         else 1)
        rid = str(raw["id"])
        return cls(
            id=rid,
            name=str(raw.get("name") or rid.rsplit("/", 1)[-1]),
            resource_group=resource_group_of(rid),
            location=str(raw.get("location") or ""),
            tags=_tags(raw),
            availability_set_id=_ref(raw, "properties", "availabilitySet"),
            scale_set_id=_ref(raw, "properties", "virtualMachineScaleSet"),
            nic_ids=tuple(n["id"] for n in ordered if isinstance(n.get("id"), str)),
            provisioning_state=_get(raw, "properties", "provisioningState"),
            raw=raw,
            time_created=parse_time(_get(raw, "properties", "timeCreated")),
        )

    @property
    def key(self) -> str:
        return id_key(self.id)

    @property
    def primary_nic_id(self) -> str | None:
        return self.nic_ids[0] if self.nic_ids else None


class PoolMember:
    """What a NIC's ip configuration and a scale-set model's share: the backend pools they are in."""

    backend_pool_ids: tuple[str, ...]

    def in_pool(self, pool_id: str) -> bool:
        key = id_key(pool_id)
        return any(id_key(p) == key for p in self.backend_pool_ids)


@dataclass(frozen=True)
class ScaleSetIpConfig(PoolMember):
    """An ip configuration in the scale-set model (``virtualMachineProfile.networkProfile``)."""

    name: str
    primary: bool
    subnet_id: str | None
    backend_pool_ids: tuple[str, ...]
    nat_pool_ids: tuple[str, ...]


@dataclass(frozen=True)
class ScaleSetNicConfig:
    name: str
    primary: bool
    ip_configurations: tuple[ScaleSetIpConfig, ...]

    @property
    def primary_ip_configuration(self) -> ScaleSetIpConfig | None:
        return _primary(self.ip_configurations)


@dataclass(frozen=True)
class ScaleSetInstance:
    """A Uniform scale-set instance (``.../virtualMachineScaleSets/ss/virtualMachines/3``)."""

    id: str
    instance_id: str
    name: str
    latest_model_applied: bool | None
    nic_ids: tuple[str, ...]
    provisioning_state: str | None
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def from_arm(cls, raw: Raw) -> ScaleSetInstance:
        rid = str(raw["id"])
        lma = _get(raw, "properties", "latestModelApplied")
        return cls(
            id=rid,
            instance_id=str(raw.get("instanceId") or rid.rsplit("/", 1)[-1]),
            name=str(raw.get("name") or ""),
            latest_model_applied=lma if isinstance(lma, bool) else None,
            nic_ids=_refs(raw, "properties", "networkProfile", "networkInterfaces"),
            provisioning_state=_get(raw, "properties", "provisioningState"),
            raw=raw,
        )


@dataclass(frozen=True)
class ScaleSet:
    """A virtual machine scale set; ``instances`` are filled only for Uniform orchestration."""

    id: str
    name: str
    resource_group: str
    location: str
    tags: Mapping[str, str]
    orchestration_mode: str
    upgrade_mode: str
    etag: str | None
    capacity: int | None
    nic_configurations: tuple[ScaleSetNicConfig, ...]
    health_probe_id: str | None
    instances: tuple[ScaleSetInstance, ...]
    provisioning_state: str | None
    raw: Raw = field(repr=False, compare=False)
    single_placement_group: bool | None = None

    @classmethod
    def from_arm(cls, raw: Raw, instances: Iterable[Raw] = ()) -> ScaleSet:
        rid = str(raw["id"])
        profile = _get(raw, "properties", "virtualMachineProfile", "networkProfile")
        nic_configs = []
        for nc in _list(profile, "networkInterfaceConfigurations"):
            ipcs = tuple(
                ScaleSetIpConfig(
                    name=str(ic.get("name") or ""),
                    primary=_get(ic, "properties", "primary") is True,
                    subnet_id=_ref(ic, "properties", "subnet"),
                    backend_pool_ids=_refs(ic, "properties", "loadBalancerBackendAddressPools"),
                    nat_pool_ids=_refs(ic, "properties", "loadBalancerInboundNatPools"),
                )
                for ic in _list(nc, "properties", "ipConfigurations")
            )
            nic_configs.append(ScaleSetNicConfig(name=str(nc.get("name") or ""),
                                                 primary=_get(nc, "properties", "primary") is True,
                                                 ip_configurations=ipcs))
        insts = tuple(sorted((ScaleSetInstance.from_arm(i) for i in instances), key=lambda i: id_key(i.id)))
        return cls(
            id=rid,
            name=str(raw.get("name") or rid.rsplit("/", 1)[-1]),
            resource_group=resource_group_of(rid),
            location=str(raw.get("location") or ""),
            tags=_tags(raw),
            orchestration_mode=str(_get(raw, "properties", "orchestrationMode") or "Uniform"),
            upgrade_mode=str(_get(raw, "properties", "upgradePolicy", "mode") or "Manual"),
            etag=raw.get("etag"),
            capacity=_int(_get(raw, "sku", "capacity")),
            nic_configurations=tuple(nic_configs),
            health_probe_id=_ref(profile, "healthProbe"),
            instances=insts,
            provisioning_state=_get(raw, "properties", "provisioningState"),
            raw=raw,
            single_placement_group=_bool(_get(raw, "properties", "singlePlacementGroup")),
        )

    @property
    def key(self) -> str:
        return id_key(self.id)

    @property
    def is_uniform(self) -> bool:
        return self.orchestration_mode.lower() == "uniform"

    @property
    def primary_nic_configuration(self) -> ScaleSetNicConfig | None:
        return _primary(self.nic_configurations)


def _primary(items: tuple[Any, ...]) -> Any:
    """The item flagged primary; a lone item counts as primary (ARM omits the flag then)."""
    for item in items:
        if item.primary:
            return item
    return items[0] if len(items) == 1 else None


# -- network ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IpConfiguration(PoolMember):
    """A NIC ip configuration: the unit that joins pools and NAT rules."""

    name: str
    id: str
    primary: bool
    subnet_id: str | None
    backend_pool_ids: tuple[str, ...]
    nat_rule_ids: tuple[str, ...]
    public_ip_id: str | None
    private_ip_address: str | None = None

    def has_nat_rule(self, rule_id: str) -> bool:
        key = id_key(rule_id)
        return any(id_key(r) == key for r in self.nat_rule_ids)


@dataclass(frozen=True)
class Nic:
    """A network interface (standalone, or a Uniform scale-set instance NIC, which is read-only to poolkeeper)."""

    id: str
    name: str
    etag: str | None
    tags: Mapping[str, str]
    vm_id: str | None
    primary: bool
    ip_configurations: tuple[IpConfiguration, ...]
    raw: Raw = field(repr=False, compare=False)
    network_security_group_id: str | None = None

    @classmethod
    def from_arm(cls, raw: Raw) -> Nic:
        rid = str(raw["id"])
        ipcs = tuple(
            IpConfiguration(
                name=str(ic.get("name") or ""),
                id=str(ic.get("id") or f"{rid}/ipConfigurations/{ic.get('name')}"),
                primary=_get(ic, "properties", "primary") is True,
                subnet_id=_ref(ic, "properties", "subnet"),
                backend_pool_ids=_refs(ic, "properties", "loadBalancerBackendAddressPools"),
                nat_rule_ids=_refs(ic, "properties", "loadBalancerInboundNatRules"),
                public_ip_id=_ref(ic, "properties", "publicIPAddress"),
                private_ip_address=_str(_get(ic, "properties", "privateIPAddress")),
            )
            for ic in _list(raw, "properties", "ipConfigurations")
        )
        return cls(id=rid, name=str(raw.get("name") or rid.rsplit("/", 1)[-1]), etag=raw.get("etag"),
                   tags=_tags(raw), vm_id=_ref(raw, "properties", "virtualMachine"),
                   primary=_get(raw, "properties", "primary") is True, ip_configurations=ipcs, raw=raw,
                   network_security_group_id=_ref(raw, "properties", "networkSecurityGroup"))

    @property
    def key(self) -> str:
        return id_key(self.id)

    @property
    def is_scale_set_instance_nic(self) -> bool:
        """Uniform instance NICs are owned by the scale-set model and cannot be written directly."""
        return scale_set_of(self.id) is not None

    @property
    def primary_ip_configuration(self) -> IpConfiguration | None:
        return _primary(self.ip_configurations)

    def ip_configuration(self, name_or_id: str) -> IpConfiguration | None:
        key = name_or_id.lower()
        for ic in self.ip_configurations:
            if ic.name.lower() == key or id_key(ic.id) == id_key(name_or_id):
                return ic
        return None


@dataclass(frozen=True)
class Frontend:
    name: str
    id: str
    public_ip_id: str | None
    subnet_id: str | None


@dataclass(frozen=True)
class BackendPool:
    name: str
    id: str
    backend_ip_configuration_ids: tuple[str, ...]
    virtual_network_id: str | None


@dataclass(frozen=True)
class InboundNatRule:
    """A NAT rule: V1 (single ``frontend_port`` → one ipconfig) or V2 (port range over a backend pool)."""

    name: str
    id: str
    frontend_ip_configuration_id: str | None
    protocol: str
    frontend_port: int | None
    backend_port: int | None
    backend_ip_configuration_id: str | None
    backend_address_pool_id: str | None
    frontend_port_range_start: int | None
    frontend_port_range_end: int | None

    @property
    def is_v2(self) -> bool:
        return self.backend_address_pool_id is not None or self.frontend_port_range_start is not None

    def frontend_ports(self) -> range:
        """The frontend ports this rule occupies."""
        if self.frontend_port_range_start is not None:
            end = self.frontend_port_range_end or self.frontend_port_range_start
            return range(self.frontend_port_range_start, end + 1)
        if self.frontend_port is not None:
            return range(self.frontend_port, self.frontend_port + 1)
        return range(0)


@dataclass(frozen=True)
class InboundNatPool:
    name: str
    id: str
    frontend_ip_configuration_id: str | None
    protocol: str
    frontend_port_range_start: int | None
    frontend_port_range_end: int | None
    backend_port: int | None

    def frontend_ports(self) -> range:
        if self.frontend_port_range_start is None:
            return range(0)
        return range(self.frontend_port_range_start, (self.frontend_port_range_end or 0) + 1)


@dataclass(frozen=True)
class LoadBalancingRule:
    name: str
    id: str
    frontend_ip_configuration_id: str | None
    backend_address_pool_ids: tuple[str, ...]
    probe_id: str | None
    protocol: str
    frontend_port: int | None
    backend_port: int | None
    disable_outbound_snat: bool


@dataclass(frozen=True)
class Probe:
    name: str
    id: str
    protocol: str
    port: int | None
    request_path: str | None = None


@dataclass(frozen=True)
class OutboundRule:
    name: str
    id: str
    frontend_ip_configuration_ids: tuple[str, ...]
    backend_address_pool_id: str | None
    protocol: str


@dataclass(frozen=True)
class LoadBalancer:
    """A load balancer with all the children the planner reasons about."""

    id: str
    name: str
    resource_group: str
    location: str
    etag: str | None
    sku: str
    tags: Mapping[str, str]
    frontends: tuple[Frontend, ...]
    backend_pools: tuple[BackendPool, ...]
    inbound_nat_rules: tuple[InboundNatRule, ...]
    inbound_nat_pools: tuple[InboundNatPool, ...]
    load_balancing_rules: tuple[LoadBalancingRule, ...]
    probes: tuple[Probe, ...]
    outbound_rules: tuple[OutboundRule, ...]
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def from_arm(cls, raw: Raw) -> LoadBalancer:
        rid = str(raw["id"])

        def child_id(item: Raw, kind: str) -> str:
            return str(item.get("id") or f"{rid}/{kind}/{item.get('name')}")

        props = raw.get("properties") or {}
        frontends = tuple(
            Frontend(name=str(f.get("name")), id=child_id(f, "frontendIPConfigurations"),
                     public_ip_id=_ref(f, "properties", "publicIPAddress"), subnet_id=_ref(f, "properties", "subnet"))
            for f in _list(props, "frontendIPConfigurations"))
        pools = tuple(
            BackendPool(name=str(p.get("name")), id=child_id(p, "backendAddressPools"),
                        backend_ip_configuration_ids=_refs(p, "properties", "backendIPConfigurations"),
                        virtual_network_id=_ref(p, "properties", "virtualNetwork"))
            for p in _list(props, "backendAddressPools"))
        nat_rules = tuple(
            InboundNatRule(
                name=str(r.get("name")), id=child_id(r, "inboundNatRules"),
                frontend_ip_configuration_id=_ref(r, "properties", "frontendIPConfiguration"),
                protocol=str(_get(r, "properties", "protocol") or ""),
                frontend_port=_int(_get(r, "properties", "frontendPort")),
                backend_port=_int(_get(r, "properties", "backendPort")),
                backend_ip_configuration_id=_ref(r, "properties", "backendIPConfiguration"),
                backend_address_pool_id=_ref(r, "properties", "backendAddressPool"),
                frontend_port_range_start=_int(_get(r, "properties", "frontendPortRangeStart")),
                frontend_port_range_end=_int(_get(r, "properties", "frontendPortRangeEnd")),
            )
            for r in _list(props, "inboundNatRules"))
        nat_pools = tuple(
            InboundNatPool(
                name=str(p.get("name")), id=child_id(p, "inboundNatPools"),
                frontend_ip_configuration_id=_ref(p, "properties", "frontendIPConfiguration"),
                protocol=str(_get(p, "properties", "protocol") or ""),
                frontend_port_range_start=_int(_get(p, "properties", "frontendPortRangeStart")),
                frontend_port_range_end=_int(_get(p, "properties", "frontendPortRangeEnd")),
                backend_port=_int(_get(p, "properties", "backendPort")),
            )
            for p in _list(props, "inboundNatPools"))
        lb_rules = tuple(
            LoadBalancingRule(
                name=str(r.get("name")), id=child_id(r, "loadBalancingRules"),
                frontend_ip_configuration_id=_ref(r, "properties", "frontendIPConfiguration"),
                backend_address_pool_ids=(
                    _refs(r, "properties", "backendAddressPools")
                    or tuple(x for x in [_ref(r, "properties", "backendAddressPool")] if x)),
                probe_id=_ref(r, "properties", "probe"),
                protocol=str(_get(r, "properties", "protocol") or ""),
                frontend_port=_int(_get(r, "properties", "frontendPort")),
                backend_port=_int(_get(r, "properties", "backendPort")),
                disable_outbound_snat=_get(r, "properties", "disableOutboundSnat") is True,
            )
            for r in _list(props, "loadBalancingRules"))
        probes = tuple(
            Probe(name=str(p.get("name")), id=child_id(p, "probes"),
                  protocol=str(_get(p, "properties", "protocol") or ""), port=_int(_get(p, "properties", "port")),
                  request_path=_str(_get(p, "properties", "requestPath")))
            for p in _list(props, "probes"))
        outbound = tuple(
            OutboundRule(name=str(o.get("name")), id=child_id(o, "outboundRules"),
                         frontend_ip_configuration_ids=_refs(o, "properties", "frontendIPConfigurations"),
                         backend_address_pool_id=_ref(o, "properties", "backendAddressPool"),
                         protocol=str(_get(o, "properties", "protocol") or ""))
            for o in _list(props, "outboundRules"))
        return cls(id=rid, name=str(raw.get("name") or rid.rsplit("/", 1)[-1]), resource_group=resource_group_of(rid),
                   location=str(raw.get("location") or ""), etag=raw.get("etag"),
                   sku=str(_get(raw, "sku", "name") or "Basic"), tags=_tags(raw), frontends=frontends,
                   backend_pools=pools, inbound_nat_rules=nat_rules, inbound_nat_pools=nat_pools,
                   load_balancing_rules=lb_rules, probes=probes, outbound_rules=outbound, raw=raw)

    @property
    def key(self) -> str:
        return id_key(self.id)

    @property
    def is_basic(self) -> bool:
        """ARM's default SKU is Basic, so a missing sku counts as Basic."""
        return self.sku.lower() == "basic"

    def pool(self, name_or_id: str) -> BackendPool | None:
        return _by_name_or_id(self.backend_pools, name_or_id)

    def frontend(self, name_or_id: str) -> Frontend | None:
        return _by_name_or_id(self.frontends, name_or_id)

    def nat_rule(self, name_or_id: str) -> InboundNatRule | None:
        key = name_or_id.rstrip("/").rsplit("/", 1)[-1].lower()
        rule = self._nat_rules_by_name.get(key)
        if rule is not None and "/" in name_or_id and id_key(rule.id) != id_key(name_or_id):
            return None
        return rule

    @cached_property
    def _nat_rules_by_name(self) -> dict[str, InboundNatRule]:
        """Rules by lower-case name: a load balancer may hold thousands, and planning looks one up per VM."""
        return {r.name.lower(): r for r in self.inbound_nat_rules}


def _by_name_or_id(items: Iterable[Any], name_or_id: str) -> Any:
    """ARM child names are case-insensitive too."""
    key = id_key(name_or_id) if "/" in name_or_id else name_or_id.lower()
    for item in items:
        if ("/" in name_or_id and id_key(item.id) == key) or item.name.lower() == key:
            return item
    return None


# -- network security, addresses, virtual networks (read for guardrails) -----------------------------------------


def _strs(raw: Any, *path: str) -> tuple[str, ...]:
    items = _get(raw, *path)
    return tuple(str(i) for i in items if isinstance(i, str | int)) if isinstance(items, list) else ()


@dataclass(frozen=True)
class SecurityRule:
    """One NSG rule (custom or default), in ARM's own vocabulary: a single value or a list for each of
    source/destination prefixes and ports (ARM uses one or the other; both are kept, the evaluator merges them)."""

    name: str
    id: str
    priority: int
    direction: str
    access: str
    protocol: str
    source_prefixes: tuple[str, ...]
    source_ports: tuple[str, ...]
    destination_prefixes: tuple[str, ...]
    destination_ports: tuple[str, ...]
    is_default: bool = False

    @classmethod
    def from_arm(cls, raw: Raw, *, is_default: bool = False) -> SecurityRule:
        def merged(single: str, plural: str) -> tuple[str, ...]:
            one = _get(raw, "properties", single)
            many = _strs(raw, "properties", plural)
            return tuple(x for x in ((str(one),) if one not in (None, "") else ()) + many)

        return cls(name=str(raw.get("name") or ""), id=str(raw.get("id") or ""),
                   priority=_int(_get(raw, "properties", "priority")) or 0,
                   direction=str(_get(raw, "properties", "direction") or ""),
                   access=str(_get(raw, "properties", "access") or ""),
                   protocol=str(_get(raw, "properties", "protocol") or "*"),
                   source_prefixes=merged("sourceAddressPrefix", "sourceAddressPrefixes"),
                   source_ports=merged("sourcePortRange", "sourcePortRanges"),
                   destination_prefixes=merged("destinationAddressPrefix", "destinationAddressPrefixes"),
                   destination_ports=merged("destinationPortRange", "destinationPortRanges"),
                   is_default=is_default)


@dataclass(frozen=True)
class NetworkSecurityGroup:
    id: str
    name: str
    rules: tuple[SecurityRule, ...]
    nic_ids: tuple[str, ...]
    subnet_ids: tuple[str, ...]
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def from_arm(cls, raw: Raw) -> NetworkSecurityGroup:
        rid = str(raw["id"])
        custom = tuple(SecurityRule.from_arm(r) for r in _list(raw, "properties", "securityRules"))
        defaults = tuple(SecurityRule.from_arm(r, is_default=True)
                         for r in _list(raw, "properties", "defaultSecurityRules"))
        return cls(id=rid, name=str(raw.get("name") or rid.rsplit("/", 1)[-1]), rules=custom + defaults,
                   nic_ids=_refs(raw, "properties", "networkInterfaces"),
                   subnet_ids=_refs(raw, "properties", "subnets"), raw=raw)

    @property
    def key(self) -> str:
        return id_key(self.id)


@dataclass(frozen=True)
class PublicIp:
    id: str
    name: str
    sku: str
    ip_configuration_id: str | None
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def from_arm(cls, raw: Raw) -> PublicIp:
        rid = str(raw["id"])
        return cls(id=rid, name=str(raw.get("name") or rid.rsplit("/", 1)[-1]),
                   sku=str(_get(raw, "sku", "name") or "Basic"),
                   ip_configuration_id=_ref(raw, "properties", "ipConfiguration"), raw=raw)

    @property
    def is_basic(self) -> bool:
        """A missing sku counts as Basic, ARM's historical default (UNCONFIRMED for the newest API versions)."""
        return self.sku.lower() == "basic"


@dataclass(frozen=True)
class Subnet:
    id: str
    name: str
    network_security_group_id: str | None
    address_prefixes: tuple[str, ...]


@dataclass(frozen=True)
class VirtualNetwork:
    id: str
    name: str
    subnets: tuple[Subnet, ...]
    raw: Raw = field(repr=False, compare=False)

    @classmethod
    def from_arm(cls, raw: Raw) -> VirtualNetwork:
        rid = str(raw["id"])
        subnets = tuple(
            Subnet(id=str(sn.get("id") or f"{rid}/subnets/{sn.get('name')}"), name=str(sn.get("name") or ""),
                   network_security_group_id=_ref(sn, "properties", "networkSecurityGroup"),
                   address_prefixes=tuple(x for x in (_str(_get(sn, "properties", "addressPrefix")),) if x)
                   + _strs(sn, "properties", "addressPrefixes"))
            for sn in _list(raw, "properties", "subnets"))
        return cls(id=rid, name=str(raw.get("name") or rid.rsplit("/", 1)[-1]), subnets=subnets, raw=raw)


# -- snapshot -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    """Everything the planner may look at, keyed by lower-cased id.

    It may be partial (an event-driven run reads only the resources around one event), so lookups return None
    rather than raising, and the planner treats "not in the snapshot" as "unknown" unless it knows the resource
    was read.
    """

    vms: Mapping[str, Vm] = field(default_factory=dict)
    nics: Mapping[str, Nic] = field(default_factory=dict)
    load_balancers: Mapping[str, LoadBalancer] = field(default_factory=dict)
    scale_sets: Mapping[str, ScaleSet] = field(default_factory=dict)
    # Read only when a guardrail needs them (``NETWORK_PARTS``); ``parts`` says which were read, so "no NSG in the
    # snapshot" is told apart from "NSGs not read".
    nsgs: Mapping[str, NetworkSecurityGroup] = field(default_factory=dict)
    public_ips: Mapping[str, PublicIp] = field(default_factory=dict)
    virtual_networks: Mapping[str, VirtualNetwork] = field(default_factory=dict)
    parts: frozenset[str] = frozenset()
    # A workflow's view (``poolkeeper.workflows``): the one load balancer it works on (``focus``), why each resource
    # it reaches was not read (out of scope), and the scale sets whose instances were listed.
    focus: str | None = None
    out_of_scope: tuple[str, ...] = ()
    instances_read: frozenset[str] = frozenset()
    # When Azure was read (UTC, the reader's clock): the planner's only "now", so planning stays pure and every plan
    # on one snapshot (the run's, PK013's) agrees. None: unknown (no Flexible wired record is written).
    read_at: datetime | None = None

    @classmethod
    def from_arm(cls, *, vms: Iterable[Raw] = (), nics: Iterable[Raw] = (), load_balancers: Iterable[Raw] = (),
                 scale_sets: Iterable[Raw] = (), scale_set_instances: Mapping[str, Iterable[Raw]] | None = None,
                 nsgs: Iterable[Raw] | None = None, public_ips: Iterable[Raw] | None = None,
                 virtual_networks: Iterable[Raw] | None = None, focus: str | None = None,
                 out_of_scope: Iterable[str] = (), read_at: datetime | None = None) -> Snapshot:
        """Build from raw ARM GET bodies; ``scale_set_instances`` maps scale-set id → instance bodies. The network
        parts left None were not read (``parts`` lists those given); ``focus`` and ``out_of_scope``: a workflow's;
        ``read_at``: when they were read."""
        by_ss = {id_key(k): list(v) for k, v in (scale_set_instances or {}).items()}
        given = {"nsgs": nsgs, "public_ips": public_ips, "virtual_networks": virtual_networks}
        return cls(
            vms={id_key(v["id"]): Vm.from_arm(v) for v in vms},
            nics={id_key(n["id"]): Nic.from_arm(n) for n in nics},
            load_balancers={id_key(lb["id"]): LoadBalancer.from_arm(lb) for lb in load_balancers},
            scale_sets={id_key(s["id"]): ScaleSet.from_arm(s, by_ss.get(id_key(s["id"]), ())) for s in scale_sets},
            nsgs={id_key(n["id"]): NetworkSecurityGroup.from_arm(n) for n in nsgs or ()},
            public_ips={id_key(p["id"]): PublicIp.from_arm(p) for p in public_ips or ()},
            virtual_networks={id_key(v["id"]): VirtualNetwork.from_arm(v) for v in virtual_networks or ()},
            parts=frozenset(k for k, v in given.items() if v is not None),
            focus=focus, out_of_scope=tuple(out_of_scope), instances_read=frozenset(by_ss), read_at=read_at,
        )

    def to_arm(self) -> dict[str, Any]:
        """The raw bodies again, in :meth:`from_arm`'s keyword form (for tests and simulators)."""
        return {
            "vms": [v.raw for v in self.vms.values()],
            "nics": [n.raw for n in self.nics.values()],
            "load_balancers": [lb.raw for lb in self.load_balancers.values()],
            "scale_sets": [s.raw for s in self.scale_sets.values()],
            "scale_set_instances": {s.id: [i.raw for i in s.instances] for s in self.scale_sets.values()},
            **{part: [x.raw for x in getattr(self, part).values()] for part in sorted(self.parts)},
        }

    # -- a workflow's raw view (its load balancer, scale sets and instances as ARM returned them) ---------------------
    @property
    def focus_lb(self) -> Body | None:
        """The raw body of the load balancer a workflow works on (``focus``), None when it was not found."""
        lb = self.load_balancer(self.focus)
        return cast(Body, lb.raw) if lb is not None else None

    def recorded_intent(self) -> str | None:
        """The intent tag a NAT-pool workflow records on its load balancer (``changes.INTENT_TAG``), if any."""
        from poolkeeper.changes import INTENT_TAG

        return ((self.focus_lb or {}).get("tags") or {}).get(INTENT_TAG)

    def scale_set_body(self, scale_set_id: str) -> Body | None:
        found = self.scale_set(scale_set_id)
        return cast(Body, found.raw) if found is not None else None

    def scale_set_bodies(self) -> list[Body]:
        """Raw scale-set bodies in id order."""
        return [cast(Body, self.scale_sets[k].raw) for k in sorted(self.scale_sets)]

    def instance_bodies(self, scale_set_id: str) -> list[Body]:
        """Raw instance bodies of a scale set (empty when they were not listed)."""
        found = self.scale_set(scale_set_id)
        return [cast(Body, i.raw) for i in found.instances] if found is not None else []

    # -- lookups -------------------------------------------------------------------------------------------------
    def vm(self, vm_id: str | None) -> Vm | None:
        return self.vms.get(id_key(vm_id)) if vm_id else None

    def nic(self, nic_id: str | None) -> Nic | None:
        return self.nics.get(id_key(nic_id)) if nic_id else None

    def load_balancer(self, lb_id: str | None) -> LoadBalancer | None:
        return self.load_balancers.get(id_key(lb_id)) if lb_id else None

    def scale_set(self, scale_set_id: str | None) -> ScaleSet | None:
        return self.scale_sets.get(id_key(scale_set_id)) if scale_set_id else None

    def nsg(self, nsg_id: str | None) -> NetworkSecurityGroup | None:
        return self.nsgs.get(id_key(nsg_id)) if nsg_id else None

    def public_ip(self, pip_id: str | None) -> PublicIp | None:
        return self.public_ips.get(id_key(pip_id)) if pip_id else None

    def subnet(self, subnet_id: str | None) -> Subnet | None:
        if not subnet_id:
            return None
        vnet = self.virtual_networks.get(parent_key(subnet_id))
        key = id_key(subnet_id)
        return next((sn for sn in vnet.subnets if id_key(sn.id) == key), None) if vnet else None

    def nic_for_ip_configuration(self, ip_configuration_id: str) -> Nic | None:
        """The NIC owning an ip configuration id (``.../networkInterfaces/n/ipConfigurations/x``)."""
        return self.nics.get(parent_key(ip_configuration_id))

    def ip_configuration(self, ip_configuration_id: str) -> IpConfiguration | None:
        nic = self.nic_for_ip_configuration(ip_configuration_id)
        return nic.ip_configuration(ip_configuration_id) if nic else None

    def lb_of(self, child_id: str) -> LoadBalancer | None:
        """The load balancer owning a child id (pool, frontend, rule, probe...)."""
        segs = id_key(child_id).split("/")
        try:
            i = segs.index("loadbalancers")
        except ValueError:
            return None
        return self.load_balancers.get("/".join(segs[: i + 2]))

    def primary_nic(self, vm: Vm) -> Nic | None:
        return self.nic(vm.primary_nic_id)

    @cached_property
    def _pool_index(self) -> dict[str, list[tuple[Nic, IpConfiguration]]]:
        index: dict[str, list[tuple[Nic, IpConfiguration]]] = {}
        for nic in self.nics.values():
            for ic in nic.ip_configurations:
                for pool in ic.backend_pool_ids:
                    index.setdefault(id_key(pool), []).append((nic, ic))
        return index

    def pool_members(self, pool_id: str) -> list[tuple[Nic, IpConfiguration]]:
        """NIC ip configurations in the snapshot that reference the pool (NIC side is the source of truth)."""
        return list(self._pool_index.get(id_key(pool_id), []))

    def scale_sets_using_pool(self, pool_id: str) -> list[ScaleSet]:
        """Scale sets whose model references the pool."""
        key = id_key(pool_id)
        return [s for s in self.scale_sets.values()
                if any(id_key(p) == key for nc in s.nic_configurations for ic in nc.ip_configurations
                       for p in ic.backend_pool_ids)]

    @cached_property
    def _nat_rule_index(self) -> dict[str, list[tuple[Nic, IpConfiguration]]]:
        index: dict[str, list[tuple[Nic, IpConfiguration]]] = {}
        for nic in self.nics.values():
            for ic in nic.ip_configurations:
                for rule in ic.nat_rule_ids:
                    index.setdefault(id_key(rule), []).append((nic, ic))
        return index

    def nat_rule_referrers(self, rule_id: str) -> list[tuple[Nic, IpConfiguration]]:
        """NIC ip configurations in the snapshot that reference the NAT rule (indexed: planning stays linear)."""
        return list(self._nat_rule_index.get(id_key(rule_id), []))
