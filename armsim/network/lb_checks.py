"""A load balancer PUT's validation (whole-LB or child writes alike): values, references, removals, conflicts.

Error codes and their sources are listed in loadbalancer.py's docstring.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError, referenced_resource_not_provisioned
from armsim.network import ipam
from armsim.network.backend_addresses import ADMIN_STATES, check_admin_state
from armsim.network.common import (
    NET,
    enum_value,
    int_value,
    invalid_reference,
    ipconfigs_referencing,
    ref,
    ref_id,
    ref_ids,
    same,
    scale_set_id,
    scale_sets_referencing,
)
from armsim.provider import Ctx

if TYPE_CHECKING:
    pass
from armsim.network.lb_common import (
    _PROTOCOLS,
    COLLECTIONS,
    _check_range,
    _kind,
    _names,
    _overlap,
    _pool_id,
    _range,
    _require_frontend,
    _signature,
    mixed_pool,
    sibling_references,
)


def validate_children(ctx: Ctx, lb_id: str, props: dict[str, Any], sku: str) -> None:
    """Enum values, port ranges and defaults, as NRP fills them in (see the published examples)."""
    for i, fe in enumerate(props["frontendIPConfigurations"]):
        fp = fe["properties"]
        path = f"properties.frontendIPConfigurations[{i}].properties"
        fp["privateIPAllocationMethod"] = enum_value(
            fp.get("privateIPAllocationMethod") or "Dynamic",
            ("Static", "Dynamic"),
            f"{path}.privateIPAllocationMethod",
            "IPAllocationMethod",
        )
        if (
            ref_id(fp.get("subnet")) is None
            and ref_id(fp.get("publicIPAddress")) is None
            and ref_id(fp.get("publicIPPrefix")) is None
        ):
            raise ArmError(
                400,
                "InvalidRequestFormat",
                f"Frontend IP configuration {fe['id']} needs a publicIPAddress or a subnet reference.",
            )
    for i, pool in enumerate(props["backendAddressPools"]):
        kept = []
        for j, addr in enumerate(pool["properties"].get("loadBalancerBackendAddresses") or []):
            path = f"properties.backendAddressPools[{i}].properties.loadBalancerBackendAddresses[{j}]"
            if not isinstance(addr, dict) or not addr.get("name"):
                raise ArmError(400, "InvalidRequestFormat", f"{path} needs a name.")
            ap = addr.setdefault("properties", {})
            for ro in ("inboundNatRulesPortMapping", "provisioningState"):
                ap.pop(ro, None)
            if "adminState" in ap:
                ap["adminState"] = enum_value(
                    ap["adminState"], ADMIN_STATES, f"{path}.properties.adminState",
                    "LoadBalancerBackendAddressAdminState",
                )
                check_admin_state(lb_id, sku, ap["adminState"])
            if not ap.get("ipAddress"):
                nic_member = ref_id(ap.get("networkInterfaceIPConfiguration"))
                if nic_member is None and ref_id(ap.get("loadBalancerFrontendIPConfiguration")) is None:
                    continue  # nothing to address (a NIC member's entry echoed back without its reference)
                if nic_member is not None and ap.get("adminState", "None") == "None":
                    continue  # a NIC member's echoed entry: computed on read, kept only to hold an admin state
                if nic_member is not None:
                    addr["properties"] = {"networkInterfaceIPConfiguration": ref(nic_member),
                                          "adminState": ap["adminState"]}
            else:
                ap.pop("networkInterfaceIPConfiguration", None)
            kept.append(addr)
        if "loadBalancerBackendAddresses" in pool["properties"]:
            pool["properties"]["loadBalancerBackendAddresses"] = kept
    for i, rule in enumerate(props["loadBalancingRules"]):
        rp = rule["properties"]
        path = f"properties.loadBalancingRules[{i}].properties"
        rp["protocol"] = enum_value(rp.get("protocol"), _PROTOCOLS, f"{path}.protocol", "TransportProtocol")
        rp["frontendPort"] = int_value(rp.get("frontendPort"), f"{path}.frontendPort", 0, 65534)
        rp["backendPort"] = int_value(rp.get("backendPort", rp["frontendPort"]), f"{path}.backendPort", 0, 65535)
        rp["loadDistribution"] = enum_value(
            rp.get("loadDistribution") or "Default",
            ("Default", "SourceIP", "SourceIPProtocol"),
            f"{path}.loadDistribution",
            "LoadDistribution",
        )
        rp["idleTimeoutInMinutes"] = int_value(
            rp.get("idleTimeoutInMinutes", 4), f"{path}.idleTimeoutInMinutes", 4, 100
        )
        for flag in ("enableFloatingIP", "enableTcpReset", "disableOutboundSnat"):
            rp[flag] = bool(rp.get(flag, False))
    for i, probe in enumerate(props["probes"]):
        pp = probe["properties"]
        path = f"properties.probes[{i}].properties"
        pp["protocol"] = enum_value(
            pp.get("protocol"), ("Http", "Tcp", "Https"), f"{path}.protocol", "ProbeProtocol"
        )
        pp["port"] = int_value(pp.get("port"), f"{path}.port", 1, 65535)
        pp["intervalInSeconds"] = int_value(
            pp.get("intervalInSeconds", 15), f"{path}.intervalInSeconds", 5, 2147483647
        )
        pp["numberOfProbes"] = int_value(pp.get("numberOfProbes", 2), f"{path}.numberOfProbes", 1, 2147483647)
        pp["probeThreshold"] = int_value(pp.get("probeThreshold", 1), f"{path}.probeThreshold", 1, 2147483647)
        if pp["protocol"] in ("Http", "Https") and not pp.get("requestPath"):
            raise ArmError(
                400,
                "InvalidRequestFormat",
                f"Probe {probe['id']} uses {pp['protocol']} and needs properties.requestPath.",
            )
    for i, rule in enumerate(props["inboundNatRules"]):
        rp = rule["properties"]
        path = f"properties.inboundNatRules[{i}].properties"
        rp["protocol"] = enum_value(rp.get("protocol"), _PROTOCOLS, f"{path}.protocol", "TransportProtocol")
        rp["backendPort"] = int_value(rp.get("backendPort"), f"{path}.backendPort", 0, 65535)
        rp["idleTimeoutInMinutes"] = int_value(
            rp.get("idleTimeoutInMinutes", 4), f"{path}.idleTimeoutInMinutes", 4, 100
        )
        for flag in ("enableFloatingIP", "enableTcpReset"):
            rp[flag] = bool(rp.get(flag, False))
        has_range = rp.get("frontendPortRangeStart") is not None or rp.get("frontendPortRangeEnd") is not None
        v2 = ref_id(rp.get("backendAddressPool")) is not None
        if rp.get("frontendPort") is not None and has_range:
            # azure-cli#21583
            raise ArmError(
                400,
                "UnsupportedSetOfInboundNatRulePropertiesWhenFrontendPortIsSpecified",
                f"If FrontendPort {rp['frontendPort']} is set, properties FrontendPortRangeStart, "
                f"FrontendPortRangeEnd should be null.",
            )
        if v2 or has_range:
            if rp.get("frontendPortRangeStart") is None or rp.get("frontendPortRangeEnd") is None or not v2:
                raise ArmError(
                    400,
                    "MissedInboundNatRuleV2Properties",
                    "For inbound Nat rule V2 properties FrontendPortRangeStart, FrontendPortRangeEnd should not be "
                    "null."
                    if v2
                    else f"Inbound NAT rule {rule['id']} with a frontend port range needs "
                    f"properties.backendAddressPool.",
                )
            rp["frontendPortRangeStart"] = int_value(
                rp["frontendPortRangeStart"], f"{path}.frontendPortRangeStart", 1, 65534
            )
            rp["frontendPortRangeEnd"] = int_value(
                rp["frontendPortRangeEnd"], f"{path}.frontendPortRangeEnd", 1, 65534
            )
            _check_range(rule["id"], rp["frontendPortRangeStart"], rp["frontendPortRangeEnd"])
        else:
            rp["frontendPort"] = int_value(rp.get("frontendPort"), f"{path}.frontendPort", 1, 65534)
    for i, pool in enumerate(props["inboundNatPools"]):
        pp = pool["properties"]
        path = f"properties.inboundNatPools[{i}].properties"
        pp["protocol"] = enum_value(pp.get("protocol"), _PROTOCOLS, f"{path}.protocol", "TransportProtocol")
        pp["frontendPortRangeStart"] = int_value(
            pp.get("frontendPortRangeStart"), f"{path}.frontendPortRangeStart", 1, 65534
        )
        pp["frontendPortRangeEnd"] = int_value(
            pp.get("frontendPortRangeEnd"), f"{path}.frontendPortRangeEnd", 1, 65535
        )
        _check_range(pool["id"], pp["frontendPortRangeStart"], pp["frontendPortRangeEnd"])
        pp["backendPort"] = int_value(pp.get("backendPort"), f"{path}.backendPort", 1, 65535)
        pp["idleTimeoutInMinutes"] = int_value(
            pp.get("idleTimeoutInMinutes", 4), f"{path}.idleTimeoutInMinutes", 4, 100
        )
        for flag in ("enableFloatingIP", "enableTcpReset"):
            pp[flag] = bool(pp.get(flag, False))
    for i, rule in enumerate(props["outboundRules"]):
        rp = rule["properties"]
        path = f"properties.outboundRules[{i}].properties"
        rp["protocol"] = enum_value(
            rp.get("protocol"), _PROTOCOLS, f"{path}.protocol", "LoadBalancerOutboundRuleProtocol"
        )
        rp["allocatedOutboundPorts"] = int_value(
            rp.get("allocatedOutboundPorts", 1024), f"{path}.allocatedOutboundPorts", 0, 64000
        )
        rp["idleTimeoutInMinutes"] = int_value(
            rp.get("idleTimeoutInMinutes", 4), f"{path}.idleTimeoutInMinutes", 4, 100
        )
        rp["enableTcpReset"] = bool(rp.get("enableTcpReset", False))
        if not ref_ids(rp.get("frontendIPConfigurations")) or ref_id(rp.get("backendAddressPool")) is None:
            raise ArmError(
                400,
                "InvalidRequestFormat",
                f"Outbound rule {rule['id']} needs frontendIPConfigurations and a backendAddressPool.",
            )

def refuse_nat_rule_changes(lb_id: str, new: list[dict[str, Any]], old: list[dict[str, Any]]) -> None:
    before = {r["name"].lower(): _signature(r) for r in old}
    for r in new:
        if before.get(r["name"].lower()) != _signature(r):
            raise ArmError(
                400,
                "AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported",
                f"Adding or updating NAT Rules when NAT pool is present on loadbalancer {lb_id} is not supported. "
                f"To modify the load balancer, pass in all NAT rules unchanged or remove the "
                f"LoadBalancerInboundNatRules property from your PUT request.",
            )

# the children that must name the one frontend they listen on, and their name in the refusal
_LISTENS_ON_ONE_FRONTEND = {"loadBalancingRules": "Load balancing rule", "inboundNatRules": "Inbound NAT rule",
                            "inboundNatPools": "Inbound NAT pool"}


def check_references(ctx: Ctx, lb_id: str, props: dict[str, Any], sku: str) -> None:
    """Every reference to a sibling child must name one that exists in this body; external ones must exist."""
    known = {coll: {ids.key(c["id"]) for c in props[coll]} for coll in COLLECTIONS}

    def need(target: str | None, coll: str, referrer: str) -> None:
        if target is None:
            return
        if ids.key(target) not in known[coll]:
            raise invalid_reference(target, referrer)

    for fe in props["frontendIPConfigurations"]:
        fp = fe["properties"]
        pip = ref_id(fp.get("publicIPAddress"))
        if pip is not None:
            rec = ctx.store.get(pip)
            if rec is None or rec.type.lower() != f"{NET}/publicIPAddresses".lower():
                raise invalid_reference(pip, fe["id"])
            fp["publicIPAddress"] = ref(rec.id)
            pip_sku = str((rec.body.get("sku") or {}).get("name", "Basic"))
            if pip_sku.lower() != sku.lower():
                # Azure/terraform-azurerm-loadbalancer#32 and denniszielke/container_demos#2 (message verbatim)
                raise ArmError(
                    400,
                    "PublicIPAndLBSkuDoNotMatch",
                    f"{sku} sku load balancer {lb_id} cannot reference {pip_sku} sku publicIP {rec.id}.",
                )
        subnet = ref_id(fp.get("subnet"))
        if subnet is not None and not ipam.subnet_exists(ctx.store, subnet):
            raise invalid_reference(subnet, fe["id"])
    for pool in props["backendAddressPools"]:
        for addr in pool["properties"].get("loadBalancerBackendAddresses") or []:
            vnet = ref_id(addr["properties"].get("virtualNetwork"))
            if vnet is not None and ctx.store.get(vnet) is None:
                raise invalid_reference(vnet, f"{pool['id']}/loadBalancerBackendAddresses/{addr['name']}")
    for coll, child, targets in sibling_references(props):
        if coll in _LISTENS_ON_ONE_FRONTEND:
            _require_frontend(child["properties"], _LISTENS_ON_ONE_FRONTEND[coll], child["id"])
        for target_coll, target in targets:
            need(target, target_coll, child["id"])

def check_removals(
    ctx: Ctx, lb_id: str, props: dict[str, Any], old: dict[str, Any], derived: dict[str, dict[str, Any]]
) -> None:
    """What disappears from the LB must not be used by a NIC or a scale set (model or instances)."""
    store = ctx.store

    def removed(coll: str) -> list[dict[str, Any]]:
        new = {c["name"].lower() for c in props[coll]}
        return [c for c in old.get(coll) or [] if c["name"].lower() not in new]

    for coll, code, noun in (
        ("inboundNatPools", "LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet", "inbound nat pool"),
        ("backendAddressPools", "LoadBalancerBackendAddressPoolInUseByVirtualMachineScaleSet", "backend address pool"),
    ):
        for pool in removed(coll):
            vmss = scale_sets_referencing(store, pool["id"])
            if vmss:
                raise ArmError(400, code, f"Cannot remove {noun} {pool['name']} from load balancer since it is in use "
                                          f"by virtual machine scale set {scale_set_id(vmss[0])}.")
            if coll == "backendAddressPools":  # a NIC's reference to a removed backend pool is invalid
                users = ipconfigs_referencing(store, pool["id"], "loadBalancerBackendAddressPools")
                if users:
                    raise invalid_reference(pool["id"], users[0][0])
    probes_of_vmss = {ids.key(p["id"]): scale_sets_referencing(store, p["id"]) for p in old.get("probes") or []}
    for probe in removed("probes"):
        vmss = probes_of_vmss.get(ids.key(probe["id"]))
        if vmss:
            raise ArmError(
                400,
                "LoadBalancerProbeInUseByVirtualMachineScaleSet",
                f"Cannot remove load balancer probe {probe['id']} since it is used as health probe by virtual "
                f"machine scale set {scale_set_id(vmss[0])}. Update the scale set to remove the reference first.",
            )
    for rule in removed("loadBalancingRules"):
        probe = ref_id(rule["properties"].get("probe"))
        vmss = probes_of_vmss.get(ids.key(probe)) if probe else None
        if vmss:
            raise ArmError(
                400,
                "CannotRemoveRuleUsedByProbeUsedByVMSS",
                f"Load balancer rule {rule['id']} cannot be removed because the rule references the load balancer "
                f"probe {probe} that is used as health probe by VM scale set {scale_set_id(vmss[0])}. To remove "
                f"this rule, please update VM scale set to remove the reference to the probe.",
            )
    new_rules = _names(props["loadBalancingRules"])
    for rule in old.get("loadBalancingRules") or []:
        now = new_rules.get(rule["name"].lower())
        probe = ref_id(rule["properties"].get("probe"))
        if now is None or probe is None or not probes_of_vmss.get(ids.key(probe)):
            continue
        if now["properties"].get("backendPort") != rule["properties"].get("backendPort"):
            vmss = probes_of_vmss[ids.key(probe)]
            raise ArmError(
                400,
                "CannotModifyRuleUsedByProbeUsedByVMSS",
                f"Load balancer rule {rule['id']} cannot change its backend port from "
                f"{rule['properties'].get('backendPort')} to {now['properties'].get('backendPort')} because the "
                f"rule references the load balancer probe {probe} that is used as health probe by VM scale set "
                f"{scale_set_id(vmss[0])}. Remove the health probe from the scale set, change the port, then set "
                f"the probe again.",
            )
    for rule in removed("inboundNatRules"):
        if rule["name"].lower() in derived:
            continue
        users = ipconfigs_referencing(store, rule["id"], "loadBalancerInboundNatRules")
        if users:
            raise invalid_reference(rule["id"], users[0][0])
    # IP-based addresses and NIC members cannot share a pool (terraform-provider-azurerm#25962)
    for pool in props["backendAddressPools"]:
        addresses = pool["properties"].get("loadBalancerBackendAddresses") or []
        if any(a["properties"].get("ipAddress") for a in addresses) and ipconfigs_referencing(
            store, pool["id"], "loadBalancerBackendAddressPools"
        ):
            raise mixed_pool(pool["id"])

def allocate_frontends(ctx: Ctx, lb_id: str, props: dict[str, Any], old: dict[str, Any]) -> None:
    before = _names(old.get("frontendIPConfigurations") or [])
    taken: set[str] = set()
    for fe in props["frontendIPConfigurations"]:
        fp = fe["properties"]
        subnet = ref_id(fp.get("subnet"))
        if subnet is None:
            fp.pop("privateIPAddress", None)
            continue
        fp.setdefault("privateIPAddressVersion", "IPv4")
        if fp["privateIPAllocationMethod"] == "Static" and fp.get("privateIPAddress"):
            fp["privateIPAddress"] = ipam.check_static_private(
                ctx.store, subnet, fp["privateIPAddress"], lb_id, taken, fe["id"]
            )
        else:
            prev = before.get(fe["name"].lower(), {}).get("properties", {})
            if same(ref_id(prev.get("subnet")), subnet) and prev.get("privateIPAddress"):
                fp["privateIPAddress"] = prev["privateIPAddress"]
            else:
                fp["privateIPAddress"] = ipam.allocate_private(ctx.store, subnet, lb_id, taken, fe["id"])
        taken.add(fp["privateIPAddress"])
    for fe in props["frontendIPConfigurations"]:
        if ref_id(fe["properties"].get("publicIPAddress")) is not None:
            fe["properties"].setdefault("privateIPAddressVersion", "IPv4")

def check_conflicts(lb_id: str, props: dict[str, Any], derived: dict[str, dict[str, Any]]) -> None:
    # outbound rules vs implicit SNAT of load-balancing rules on the same frontend
    outbound_fes: dict[str, tuple[str, str]] = {}
    for rule in props["outboundRules"]:
        rp = rule["properties"]
        for fe in ref_ids(rp.get("frontendIPConfigurations")):
            prev = outbound_fes.get(ids.key(fe))
            if prev is not None and _overlap(prev[1], rp["protocol"]):
                raise ArmError(
                    400,
                    "MoreThanOneOutboundRuleUsingSameFrontendIPConfigurationAndProtocolIsNotSupported",
                    f"Is is not supported to have more than a single outbound rule using frontendIPConfiguration "
                    f"{fe} with same or overlapping protocol. This frontendIPConfiguration is used by the "
                    f"following "
                    f"outbound rules: {prev[0]},{rule['id']}",
                )
            outbound_fes[ids.key(fe)] = (rule["id"], rp["protocol"])
    for rule in props["loadBalancingRules"]:
        rp = rule["properties"]
        fe = ref_id(rp.get("frontendIPConfiguration"))
        if fe and ids.key(fe) in outbound_fes and not rp.get("disableOutboundSnat"):
            raise ArmError(
                400,
                "LoadBalancingRuleMustDisableSNATSinceSameFrontendIPConfigurationIsReferencedByOutboundRule",
                f"Load balancing rule {rule['id']} must disable SNAT since the same frontendIPConfiguration {fe} "
                f"is "
                f"referenced by outbound rule {outbound_fes[ids.key(fe)][0]}. Set disableOutboundSnat to true.",
            )
    # rules sharing backend port + protocol + pool (floating IP disabled)
    claims: list[tuple[str, str, int, str, str]] = []  # (pool key, protocol, backend port, rule id, kind)
    for rule in props["loadBalancingRules"]:
        rp = rule["properties"]
        if rp.get("enableFloatingIP"):
            continue
        pools = ref_ids(rp.get("backendAddressPools")) or [p for p in [ref_id(rp.get("backendAddressPool"))] if p]
        for pool in pools:
            claims.append((ids.key(pool), rp["protocol"], rp["backendPort"], rule["id"], "Load balancing rules"))
    for rule in props["inboundNatRules"]:
        rp = rule["properties"]
        pool = ref_id(rp.get("backendAddressPool"))
        if pool and not rp.get("enableFloatingIP"):
            claims.append((ids.key(pool), rp["protocol"], rp["backendPort"], rule["id"], "Rules"))
    for i, a in enumerate(claims):
        for b in claims[i + 1 :]:
            if a[0] == b[0] and a[2] == b[2] and _overlap(a[1], b[1]):
                raise ArmError(
                    400,
                    "RulesUseSameBackendPortProtocolAndPool",
                    f"{b[4]} {a[3]} and {b[3]} with floating IP disabled use the same protocol {b[1]} and backend "
                    f"port {b[2]}, and must not be used with the same backend address pool "
                    f"{_pool_id(props, b[0])}.",
                )
    # frontend port claims of NAT rules (V1, V2 ranges, derived) and NAT pools
    ports: list[tuple[str, str, int, int, str, str | None]] = []  # fe, protocol, lo, hi, owner, pool of derived
    for rule in props["inboundNatRules"]:
        rp = rule["properties"]
        fe = ids.key(ref_id(rp.get("frontendIPConfiguration")) or "")
        d = derived.get(rule["name"].lower())
        if rp.get("frontendPortRangeStart") is not None:
            ports.append(
                (fe, rp["protocol"], rp["frontendPortRangeStart"], rp["frontendPortRangeEnd"], rule["id"], None)
            )
        else:
            ports.append(
                (
                    fe,
                    rp["protocol"],
                    rp["frontendPort"],
                    rp["frontendPort"],
                    rule["id"],
                    d["pool"].lower() if d else None,
                )
            )
    for pool in props["inboundNatPools"]:
        pp = pool["properties"]
        fe = ids.key(ref_id(pp.get("frontendIPConfiguration")) or "")
        ports.append(
            (
                fe,
                pp["protocol"],
                pp["frontendPortRangeStart"],
                pp["frontendPortRangeEnd"],
                pool["id"],
                "@" + pool["name"].lower(),
            )
        )
    for i, a in enumerate(ports):
        for b in ports[i + 1 :]:
            if a[0] != b[0] or not _overlap(a[1], b[1]) or a[3] < b[2] or b[3] < a[2]:
                continue
            if {a[5], b[5]} & {None} == set() and (a[5] or "").lstrip("@") == (b[5] or "").lstrip("@"):
                continue  # a NAT pool and the rules derived from it
            raise ArmError(
                400,
                "InboundNatRuleFrontendPortConflict",
                f"{_kind(a[4])} {a[4]} and {_kind(b[4])} {b[4]} use the same frontend IP configuration, an "
                f"overlapping protocol ({a[1]}/{b[1]}) and overlapping frontend ports "
                f"({_range(a)} and {_range(b)}). "
                f"Frontend ports must be unique per frontend IP configuration and protocol.",
            )


def refuse_if_members_deleting(ctx: Ctx, lb_id: str, old: dict[str, Any]) -> None:
    """A load balancer write while a NIC in one of its pools or NAT rules is being deleted: NRP's retryable 429
    ``ReferencedResourceNotProvisioned`` naming the NIC in Deleting state (coreos/tectonic-installer#1459)."""
    for coll, key in (("backendAddressPools", "loadBalancerBackendAddressPools"),
                      ("inboundNatRules", "loadBalancerInboundNatRules")):
        for child in old.get(coll) or []:
            for ipc_id, _p, nic in ipconfigs_referencing(ctx.store, child["id"], key):
                op = ctx.engine.is_busy(nic.id)
                if op is not None and op.kind == "delete":
                    raise referenced_resource_not_provisioned(
                        ipc_id, lb_id, op.due - time.monotonic(), ctx.engine.config.time_scale,
                        state="Deleting", operation="DeleteNicOperation",
                    )
