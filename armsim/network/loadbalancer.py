"""Load balancers with all their child collections, back-references and Azure's refusals.

Children live inside the LB body (as in ARM); the engine exposes them as child endpoints and re-runs ``prepare`` when
one is written or deleted, so every rule below applies to a whole-LB PUT and to a child PUT/DELETE alike.

Error codes and where they come from (``arm-errors.md`` in the shared reference, plus lookups):

- ``InvalidResourceReference``: a reference to a child that does not exist, or a child removed while something still
  references it (MicrosoftDocs/azure-docs#59705; message form from Azure/azure-libraries-for-net#740). A backend pool
  removed while NIC ip configurations are in it answers the same (the NIC's reference would dangle); no public
  source for a dedicated "pool in use by NIC" code was found.
- ``AddingOrUpdatingNatRulesWhenNatPoolIsPresentOnLoadbalancerIsNotSupported`` (azure-docs#59705, message verbatim).
- ``LoadBalancingRuleMustDisableSNATSinceSameFrontendIPConfigurationIsReferencedByOutboundRule`` (arm-errors.md).
- ``MoreThanOneOutboundRuleUsingSameFrontendIPConfigurationAndProtocolIsNotSupported``
  (Azure/AzLoadBalancerMigration#10).
- ``RulesUseSameBackendPortProtocolAndPool`` (azure-docs#117762, message verbatim); also used for a NAT rule V2 and a
  load-balancing rule sharing a backend port on one pool (same constraint; arm-errors.md notes).
- ``MissedInboundNatRuleV2Properties`` / ``UnsupportedSetOfInboundNatRulePropertiesWhenFrontendPortIsSpecified``
  (Azure/azure-cli#21583, messages verbatim).
- ``InboundNatRuleFrontendPortConflict``: two NAT rules / pools claiming the same frontend IP, protocol and port.
  UNCONFIRMED code (no public error dump found); chosen to be self-explanatory.
- ``LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet`` (terraform-provider-azurerm#4769, message verbatim).
- Backend pool used by a scale set: ``LoadBalancerBackendAddressPoolInUseByVirtualMachineScaleSet`` (confirmed by
  the Terraform log in hashicorp/terraform-provider-azurerm#25158; message form from Azure/vm-scale-sets#53).
- ``CannotRemoveRuleUsedByProbeUsedByVMSS`` (terraform-provider-azurerm#4398/#9076, azure-cli#14167, message verbatim).
- ``CannotModifyRuleUsedByProbeUsedByVMSS``: changing the backend port of a rule whose probe is a scale set's health
  probe (seed 001 says Azure refuses it); UNCONFIRMED code, named after the confirmed removal code.
- ``LoadBalancerProbeInUseByVirtualMachineScaleSet``: removing a scale set's health probe; UNCONFIRMED code.
- ``LoadBalancerInUseByVirtualMachineScaleSet`` (400; kubernetes-sigs/cluster-api-provider-azure#3163 error body).
- ``InUseLoadBalancerCannotBeDeleted`` (listed in Azure's LB troubleshooting guidance) for an LB whose pools/NAT
  rules NICs still use.
- ``InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts`` (azure-docs#119323) from :func:`set_natpool_rules`.
- ``CannotMixIPBasedAddressesAndIPConfigurationsOnLoadBalancerBackendAddressPool`` (terraform-provider-azurerm#25962).
- ``BackendAddressNotFoundInBackendAddressPool``: ``queryInboundNatRulePortMapping`` for an ip configuration or
  address that is not a member of the pool. UNCONFIRMED code (no public error dump found); self-explanatory.
- Searched again for issue 15 (GitHub issues, code, Learn; December 2026): no public error body for
  ``InboundNatRuleFrontendPortConflict``, ``CannotModifyRuleUsedByProbeUsedByVMSS``,
  ``LoadBalancerProbeInUseByVirtualMachineScaleSet``, ``BackendAddressNotFoundInBackendAddressPool`` or (nic.py)
  ``NetworkInterfacesInBackendAddressPoolMustBeInSameVnet``; they stay UNCONFIRMED.
- Retirement refusals (new Basic LBs, new NAT pools) live in retirement.py; ``PublicIPAndLBSkuDoNotMatch`` ("Standard
  sku load balancer X cannot reference Basic sku publicIP Y", Azure/terraform-azurerm-loadbalancer#32) below.
- ``loadBalancerBackendAddresses`` and ``adminState``: backend_addresses.py.

``POST .../backendAddressPools/{pool}/queryInboundNatRulePortMapping`` (``LoadBalancers_ListInboundNatRulePortMappings``
in specification/network/resource-manager/Microsoft.Network/stable/2024-07-01/loadBalancer.json, example
QueryInboundNatRulePortMapping.json) answers, for one pool member, the frontend port each NAT rule V2 on that pool
gave it. It is a long-running operation (202 + Location; the Location poll returns the mappings). Azure does not
document how ports are handed out; armsim's rule (see :func:`_assign_v2_ports`) is stable per (rule, member).
"""

from __future__ import annotations

import copy
import re
import time
import uuid
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError, not_found, referenced_resource_not_provisioned
from armsim.network import ipam
from armsim.network.backend_addresses import ADMIN_STATES, check_admin_state, render_backend_addresses
from armsim.network.common import (
    NET,
    decorate_children,
    enum_value,
    int_value,
    invalid_reference,
    ip_configurations,
    ipconfigs_referencing,
    new_guid,
    prepare_children,
    ref,
    ref_id,
    ref_ids,
    same,
    scale_set_id,
    scale_sets_referencing,
)
from armsim.network.retirement import refuse_basic_load_balancer, refuse_new_nat_pools
from armsim.provider import ActionResult, Ctx, Provider
from armsim.store import Record

if TYPE_CHECKING:
    from armsim.engine import Engine
    from armsim.store import Store

LB_TYPE = f"{NET}/loadBalancers"
META_DERIVED = "natpool_rules"  # record.meta key: derived rule name (lower) -> {name, pool, instance, ipconfig}
# record.meta key: NAT rule V2 name (lower) -> {"pool": pool id key, "range": [start, end], "ports": {member: port}}
META_V2_PORTS = "natrule_v2_ports"
QUERY_PORT_MAPPING = "queryInboundNatRulePortMapping"

# collection -> read-only properties clients echo back (back-references and server-set fields)
_READONLY: dict[str, frozenset[str]] = {
    "frontendIPConfigurations": frozenset(
        {"loadBalancingRules", "inboundNatRules", "inboundNatPools", "outboundRules", "etag", "type"}
    ),
    "backendAddressPools": frozenset(
        {
            "backendIPConfigurations",
            "loadBalancingRules",
            "inboundNatRules",
            "outboundRules",
            "outboundRule",
            "etag",
            "type",
        }
    ),
    "loadBalancingRules": frozenset({"etag", "type"}),
    "probes": frozenset({"loadBalancingRules", "etag", "type"}),
    "inboundNatRules": frozenset({"backendIPConfiguration", "etag", "type"}),
    "inboundNatPools": frozenset({"etag", "type"}),
    "outboundRules": frozenset({"etag", "type"}),
}
COLLECTIONS = tuple(_READONLY)
_PROTOCOLS = ("Tcp", "Udp", "All")


def _child_type(collection: str) -> str:
    return f"{LB_TYPE}/{collection}"


def _derived(rec_meta: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(rec_meta.get(META_DERIVED) or {})


def _names(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["name"].lower(): c for c in items}


def _overlap(a: str, b: str) -> bool:
    return a == b or "All" in (a, b)


# ---------------------------------------------------------------------------------------------------- provider
class LoadBalancerProvider(Provider):
    type = LB_TYPE
    children = {c: c for c in COLLECTIONS}
    read_only_children = frozenset(
        {"frontendIPConfigurations", "loadBalancingRules", "probes", "outboundRules", "inboundNatPools"}
    )

    # ------------------------------------------------------------------------------------------------ prepare
    def prepare(
        self, ctx: Ctx, resource_id: str, body: dict[str, Any], existing: dict[str, Any] | None
    ) -> dict[str, Any]:
        store = ctx.store
        rec = store.get(resource_id)
        derived = _derived(rec.meta) if rec else {}
        incoming = dict(body.get("properties") or {})
        old = (existing or {}).get("properties", {})
        props: dict[str, Any] = {}
        for coll in COLLECTIONS:
            items = incoming.get(coll)
            if coll == "inboundNatRules" and isinstance(items, list):
                items = [r for r in items if not (isinstance(r, dict) and str(r.get("name", "")).lower() in derived)]
            props[coll] = prepare_children(resource_id, items, coll, f"properties.{coll}", _READONLY[coll])
        sku = dict(body.get("sku") or (existing or {}).get("sku") or {"name": "Basic"})
        sku["name"] = enum_value(
            sku.get("name", "Basic"), ("Basic", "Standard", "Gateway"), "sku.name", "LoadBalancerSkuName"
        )
        if "tier" in sku:
            sku["tier"] = enum_value(sku["tier"], ("Regional", "Global"), "sku.tier", "LoadBalancerSkuTier")

        refuse_basic_load_balancer(ctx, resource_id, sku["name"], existing is None)
        old_pools = {p["name"].lower() for p in old.get("inboundNatPools") or []}
        refuse_new_nat_pools(ctx, resource_id, [p["id"] for p in props["inboundNatPools"] if p["name"].lower()
                                                not in old_pools])
        self._validate_children(ctx, resource_id, props, sku["name"])
        # NAT rules while a NAT pool exists: "pass in all NAT rules unchanged or remove the LoadBalancerInboundNatRules
        # property" (azure-docs#59705) — an absent property keeps the current rules.
        user_old = [r for r in old.get("inboundNatRules") or [] if r["name"].lower() not in derived]
        if props["inboundNatPools"]:
            if "inboundNatRules" not in incoming:
                props["inboundNatRules"] = copy.deepcopy(user_old)
            else:
                self._refuse_nat_rule_changes(resource_id, props["inboundNatRules"], user_old)
        self._check_references(ctx, resource_id, props, sku["name"])
        _refuse_if_members_deleting(ctx, resource_id, old)
        self._check_removals(ctx, resource_id, props, old, derived)
        self._allocate_frontends(ctx, resource_id, props, old)
        # NAT-pool-derived rules belong to the scale set: keep them unless their pool is gone
        pools = {p["name"].lower() for p in props["inboundNatPools"]}
        kept_derived = [
            copy.deepcopy(r)
            for r in old.get("inboundNatRules") or []
            if r["name"].lower() in derived and derived[r["name"].lower()]["pool"].lower() in pools
        ]
        props["inboundNatRules"] = props["inboundNatRules"] + kept_derived
        self._check_conflicts(resource_id, props, derived)
        if rec is not None:  # the engine copies this record's meta into the new one
            rec.meta[META_DERIVED] = {k: v for k, v in derived.items() if v["pool"].lower() in pools}
        props["resourceGuid"] = old.get("resourceGuid") or new_guid()
        out = {k: v for k, v in body.items() if k not in ("etag", "id", "name", "type", "properties", "sku")}
        out["sku"] = sku
        out["properties"] = props
        return out

    def _validate_children(self, ctx: Ctx, lb_id: str, props: dict[str, Any], sku: str) -> None:
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

    @staticmethod
    def _refuse_nat_rule_changes(lb_id: str, new: list[dict[str, Any]], old: list[dict[str, Any]]) -> None:
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

    def _check_references(self, ctx: Ctx, lb_id: str, props: dict[str, Any], sku: str) -> None:
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
        for rule in props["loadBalancingRules"]:
            rp = rule["properties"]
            _require_frontend(rp, "Load balancing rule", rule["id"])
            need(ref_id(rp.get("frontendIPConfiguration")), "frontendIPConfigurations", rule["id"])
            need(ref_id(rp.get("backendAddressPool")), "backendAddressPools", rule["id"])
            for p in ref_ids(rp.get("backendAddressPools")):
                need(p, "backendAddressPools", rule["id"])
            need(ref_id(rp.get("probe")), "probes", rule["id"])
        for rule in props["inboundNatRules"]:
            rp = rule["properties"]
            _require_frontend(rp, "Inbound NAT rule", rule["id"])
            need(ref_id(rp.get("frontendIPConfiguration")), "frontendIPConfigurations", rule["id"])
            need(ref_id(rp.get("backendAddressPool")), "backendAddressPools", rule["id"])
        for pool in props["inboundNatPools"]:
            pp = pool["properties"]
            _require_frontend(pp, "Inbound NAT pool", pool["id"])
            need(ref_id(pp.get("frontendIPConfiguration")), "frontendIPConfigurations", pool["id"])
        for rule in props["outboundRules"]:
            rp = rule["properties"]
            for fe in ref_ids(rp.get("frontendIPConfigurations")):
                need(fe, "frontendIPConfigurations", rule["id"])
            need(ref_id(rp.get("backendAddressPool")), "backendAddressPools", rule["id"])

    def _check_removals(
        self, ctx: Ctx, lb_id: str, props: dict[str, Any], old: dict[str, Any], derived: dict[str, dict[str, Any]]
    ) -> None:
        """What disappears from the LB must not be used by a NIC or a scale set (model or instances)."""
        store = ctx.store

        def removed(coll: str) -> list[dict[str, Any]]:
            new = {c["name"].lower() for c in props[coll]}
            return [c for c in old.get(coll) or [] if c["name"].lower() not in new]

        for pool in removed("inboundNatPools"):
            vmss = scale_sets_referencing(store, pool["id"])
            if vmss:
                raise ArmError(
                    400,
                    "LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet",
                    f"Cannot remove inbound nat pool {pool['name']} from load balancer since it is in use by virtual "
                    f"machine scale set {scale_set_id(vmss[0])}.",
                )
        for pool in removed("backendAddressPools"):
            vmss = scale_sets_referencing(store, pool["id"])
            if vmss:
                raise ArmError(
                    400,
                    "LoadBalancerBackendAddressPoolInUseByVirtualMachineScaleSet",
                    f"Cannot remove backend address pool {pool['name']} from load balancer since it is in use by "
                    f"virtual machine scale set {scale_set_id(vmss[0])}.",
                )
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

    def _allocate_frontends(self, ctx: Ctx, lb_id: str, props: dict[str, Any], old: dict[str, Any]) -> None:
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

    def _check_conflicts(self, lb_id: str, props: dict[str, Any], derived: dict[str, dict[str, Any]]) -> None:
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

    # ------------------------------------------------------------------------------------------------ delete
    def check_delete(self, ctx: Ctx, record: Record) -> None:
        store = ctx.store
        types = {
            "microsoft.compute/virtualmachinescalesets",
            "microsoft.compute/virtualmachinescalesets/virtualmachines",
        }
        props = record.body.get("properties", {})
        for vmss_rec in store.referrers(record.id, include_children=True):
            if vmss_rec.type.lower() not in types:
                continue
            used = [
                c["name"]
                for coll in COLLECTIONS
                for c in props.get(coll) or []
                if vmss_rec in scale_sets_referencing(store, c["id"])
            ]
            raise ArmError(
                400,
                "LoadBalancerInUseByVirtualMachineScaleSet",
                f"Cannot delete load balancer {record.id} since its child resources {', '.join(used) or record.name} "
                f"are in use by virtual machine scale set {scale_set_id(vmss_rec)}.",
            )
        users: list[str] = []
        for pool in props.get("backendAddressPools") or []:
            users += [u[0] for u in ipconfigs_referencing(store, pool["id"], "loadBalancerBackendAddressPools")]
        for rule in props.get("inboundNatRules") or []:
            users += [u[0] for u in ipconfigs_referencing(store, rule["id"], "loadBalancerInboundNatRules")]
        if users:
            raise ArmError(
                400,
                "InUseLoadBalancerCannotBeDeleted",
                f"Load balancer {record.id} cannot be deleted because it is in use by {', '.join(sorted(set(users)))}. "
                f"Remove these ip configurations from its backend pools and inbound NAT rules first.",
            )

    # ------------------------------------------------------------------------------------------------ actions
    def child_action(
        self, ctx: Ctx, parent: Record, collection_prop: str, child_name: str, action_name: str, body: Any
    ) -> ActionResult:
        """``queryInboundNatRulePortMapping`` on a backend pool; any other child action is refused as before.

        LoadBalancers_ListInboundNatRulePortMappings (stable/2024-07-01/loadBalancer.json): the body names one member
        by ``ipConfiguration.id`` or ``ipAddress``; the answer lists, per NAT rule V2 on the pool, that member's
        frontend port. Azure answers 202 + Location, so armsim makes it a long-running operation whose Location poll
        returns the mappings — clients must poll, as they must in Azure. It does not lock the load balancer.
        """
        if collection_prop != "backendAddressPools" or action_name.lower() != QUERY_PORT_MAPPING.lower():
            return super().child_action(ctx, parent, collection_prop, child_name, action_name, body)
        props = parent.body.get("properties", {})
        pool = next(
            (p for p in props.get("backendAddressPools") or [] if p["name"].lower() == child_name.lower()), None
        )
        if pool is None:
            pool_id = f"{parent.id}/backendAddressPools/{child_name}"
            raise not_found(pool_id, f"resource '{_child_type(collection_prop)}'")
        member = _query_member(ctx, pool, body)
        ports = _assign_v2_ports(ctx, parent, pool)
        mappings = []
        for rule in props.get("inboundNatRules") or []:
            rp = rule["properties"]
            port = ports.get(rule["name"].lower(), {}).get(member)
            if port is None:
                continue
            mappings.append(
                {
                    "inboundNatRuleName": rule["name"],
                    "protocol": rp.get("protocol"),
                    "frontendPort": port,
                    "backendPort": rp.get("backendPort"),
                }
            )
        return ActionResult(
            status=202,
            body={"inboundNatRulePortMappings": mappings},
            duration=ctx.duration("network.put"),
            busy=False,
        )

    # ------------------------------------------------------------------------------------------------ render
    def render(self, ctx: Ctx, body: dict[str, Any]) -> dict[str, Any]:
        props = body.setdefault("properties", {})
        for coll in COLLECTIONS:
            props.setdefault(coll, [])
            decorate_children(body, coll, _child_type(coll))
        rec = ctx.store.get(body["id"])
        derived = _derived(rec.meta) if rec else {}
        back: dict[str, dict[str, list[str]]] = {}

        def add(target: str | None, key: str, source: str) -> None:
            if target:
                lst = back.setdefault(ids.key(target), {}).setdefault(key, [])
                if source not in lst:
                    lst.append(source)

        for rule in props["loadBalancingRules"]:
            rp = rule["properties"]
            add(ref_id(rp.get("frontendIPConfiguration")), "loadBalancingRules", rule["id"])
            add(ref_id(rp.get("backendAddressPool")), "loadBalancingRules", rule["id"])
            for p in ref_ids(rp.get("backendAddressPools")):
                add(p, "loadBalancingRules", rule["id"])
            add(ref_id(rp.get("probe")), "loadBalancingRules", rule["id"])
        for rule in props["inboundNatRules"]:
            rp = rule["properties"]
            add(ref_id(rp.get("frontendIPConfiguration")), "inboundNatRules", rule["id"])
            add(ref_id(rp.get("backendAddressPool")), "inboundNatRules", rule["id"])
            if ref_id(rp.get("backendAddressPool")) is None:
                users = ipconfigs_referencing(ctx.store, rule["id"], "loadBalancerInboundNatRules")
                d = derived.get(rule["name"].lower())
                if users:
                    rp["backendIPConfiguration"] = ref(users[0][0])
                elif d and d.get("ipconfig"):
                    rp["backendIPConfiguration"] = ref(d["ipconfig"])
        for pool in props["inboundNatPools"]:
            add(ref_id(pool["properties"].get("frontendIPConfiguration")), "inboundNatPools", pool["id"])
        for rule in props["outboundRules"]:
            rp = rule["properties"]
            for fe in ref_ids(rp.get("frontendIPConfigurations")):
                add(fe, "outboundRules", rule["id"])
            add(ref_id(rp.get("backendAddressPool")), "outboundRules", rule["id"])
        for pool in props["backendAddressPools"]:
            users = ipconfigs_referencing(ctx.store, pool["id"], "loadBalancerBackendAddressPools")
            if users:
                pool["properties"]["backendIPConfigurations"] = [ref(u[0]) for u in users]
            pool["properties"]["loadBalancerBackendAddresses"] = render_backend_addresses(pool, [u[0] for u in users])
        for coll in ("frontendIPConfigurations", "backendAddressPools", "probes"):
            for child in props[coll]:
                for key, sources in back.get(ids.key(child["id"]), {}).items():
                    child["properties"][key] = [ref(s) for s in sources]
        return body


class LoadBalancerNetworkInterfacesProvider(Provider):
    """``GET .../loadBalancers/{lb}/networkInterfaces`` (LoadBalancerNetworkInterfaces_List): its pools' NICs."""

    type = f"{LB_TYPE}/networkInterfaces"

    def custom_get(self, ctx: Ctx, path: Any) -> Any:
        lb_id = path.resource_id(len(path.types) - 1) if path.is_collection else None
        if lb_id is None:
            raise ArmError(405, "MethodNotAllowed", "Only the list of a load balancer's network interfaces is served.")
        rec = ctx.store.get(lb_id)
        if rec is None:
            raise not_found(lb_id, f"resource '{LB_TYPE}'")
        seen: dict[str, Record] = {}
        props = rec.body.get("properties", {})
        for coll, key in (
            ("backendAddressPools", "loadBalancerBackendAddressPools"),
            ("inboundNatRules", "loadBalancerInboundNatRules"),
        ):
            for child in props.get(coll) or []:
                for _ipc, _p, nic in ipconfigs_referencing(ctx.store, child["id"], key):
                    seen.setdefault(ids.key(nic.id), nic)
        return {"value": [ctx.engine.render(ctx, r) for r in sorted(seen.values(), key=lambda r: r.id.lower())]}


# ------------------------------------------------------------------------------------------------ NAT rule V2 ports
def _natural(key: str) -> list[Any]:
    """Sort key that orders ``.../virtualMachines/2/...`` before ``.../virtualMachines/10/...`` (instance order)."""
    out: list[Any] = []
    for part in re.split(r"(\d+)", key):
        out.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return out


def _pool_members(ctx: Ctx, pool: dict[str, Any]) -> dict[str, str]:
    """member key -> private IP address ("" if unknown) of every member of a backend pool.

    A NIC-based member is keyed by its ip configuration id (lower-cased, as ``ids.key``); an IP-based member
    (``loadBalancerBackendAddresses[].properties.ipAddress``) by ``ip:<address>``. Azure refuses pools mixing both.
    """
    out: dict[str, str] = {}
    # a scale-set instance references the pool twice (its NIC record and its applied model, which has no address):
    # ipconfigs_referencing keeps one of the two, so read the address from the NIC record itself
    for rec in ctx.store.referrers(pool["id"]):
        for ipc_id, ipc, _nic in ip_configurations(rec):
            if any(same(p, pool["id"]) for p in ref_ids(ipc.get("loadBalancerBackendAddressPools"))):
                key = ids.key(ipc_id)
                out[key] = out.get(key) or str(ipc.get("privateIPAddress") or "")
    for address in pool.get("properties", {}).get("loadBalancerBackendAddresses") or []:
        ip = str((address.get("properties") or {}).get("ipAddress") or "")
        if ip:
            out[f"ip:{ip}"] = ip
    return out


def _query_member(ctx: Ctx, pool: dict[str, Any], body: Any) -> str:
    """The member key a QueryInboundNatRulePortMappingRequest names; a 400 if it names none or a non-member."""
    ipc_id = ref_id(body.get("ipConfiguration")) if isinstance(body, dict) else None
    ip = body.get("ipAddress") if isinstance(body, dict) else None
    if not ipc_id and not ip:
        raise ArmError(
            400,
            "InvalidRequestFormat",
            "The request body must name the backend address: {\"ipConfiguration\": {\"id\": \"<NIC ip "
            "configuration id>\"}} or {\"ipAddress\": \"<address>\"}.",
        )
    members = _pool_members(ctx, pool)
    if ipc_id and ids.key(ipc_id) in members:
        return ids.key(ipc_id)
    if not ipc_id and ip:
        if f"ip:{ip}" in members:
            return f"ip:{ip}"
        by_ip = sorted(k for k, v in members.items() if v == ip)
        if by_ip:
            return by_ip[0]
    raise ArmError(
        400,
        "BackendAddressNotFoundInBackendAddressPool",
        f"The backend address {ipc_id or ip} is not a member of backend address pool {pool['id']}. Query a NIC ip "
        f"configuration or IP address that is in the pool (see its backendIPConfigurations or "
        f"loadBalancerBackendAddresses).",
    )


def _assign_v2_ports(ctx: Ctx, rec: Record, pool: dict[str, Any]) -> dict[str, dict[str, int]]:
    """NAT rule V2 name (lower) -> {member key: frontend port} for the rules on ``pool``, updating the record's meta.

    Azure hands each pool member its own frontend port from a V2 rule's range and does not renumber the others when
    membership changes. armsim's rule: a member keeps its port for as long as it stays in the pool (and the rule keeps
    its pool and range); a member that left frees its port; new members take the lowest free ports of the range in
    order of ip configuration id (instance order for a scale set). Members beyond the range get no port. The
    assignments live in ``record.meta`` (simulator bookkeeping, not the body), so they survive LB writes but no
    client sees them except through this query. They are brought up to date when queried.
    """
    props = rec.body.get("properties", {})
    members = sorted(_pool_members(ctx, pool), key=_natural)
    store: dict[str, Any] = copy.deepcopy(rec.meta.get(META_V2_PORTS) or {})
    v2_rules = {
        r["name"].lower(): r for r in props.get("inboundNatRules") or []
        if ref_id(r["properties"].get("backendAddressPool")) is not None
    }
    store = {k: v for k, v in store.items() if k in v2_rules}  # deleted rules release everything
    out: dict[str, dict[str, int]] = {}
    for key, rule in v2_rules.items():
        rp = rule["properties"]
        if not same(ref_id(rp.get("backendAddressPool")), pool["id"]):
            continue
        lo, hi = int(rp["frontendPortRangeStart"]), int(rp["frontendPortRangeEnd"])
        entry = store.get(key) or {}
        if entry.get("pool") != ids.key(pool["id"]) or entry.get("range") != [lo, hi]:
            entry = {}  # a rule re-pointed or re-ranged starts over, as a new rule would
        ports = {m: p for m, p in (entry.get("ports") or {}).items() if m in members and lo <= p <= hi}
        used = set(ports.values())
        free = (p for p in range(lo, hi + 1) if p not in used)
        for member in members:
            if member not in ports:
                port = next(free, None)
                if port is None:
                    break
                ports[member] = port
        store[key] = {"pool": ids.key(pool["id"]), "range": [lo, hi], "ports": ports}
        out[key] = dict(ports)
    rec.meta[META_V2_PORTS] = store
    return out


# ------------------------------------------------------------------------------------------------ helpers
def _check_range(owner: str, lo: int, hi: int) -> None:
    if lo > hi:
        raise ArmError(
            400,
            "InvalidRequestFormat",
            f"{owner}: frontendPortRangeStart ({lo}) must not be greater than frontendPortRangeEnd ({hi}).",
        )


def _signature(rule: dict[str, Any]) -> dict[str, Any]:
    p = {
        k: v for k, v in rule.get("properties", {}).items() if k not in ("provisioningState", "backendIPConfiguration")
    }
    for k, v in list(p.items()):
        if isinstance(v, dict) and "id" in v:
            p[k] = ids.key(v["id"])
    return p


def _kind(owner: str) -> str:
    return "Inbound NAT pool" if "/inboundNatPools/" in owner else "Inbound NAT rule"


def _range(claim: tuple[str, str, int, int, str, str | None]) -> str:
    return str(claim[2]) if claim[2] == claim[3] else f"{claim[2]}-{claim[3]}"


def _pool_id(props: dict[str, Any], key: str) -> str:
    for p in props["backendAddressPools"]:
        if ids.key(p["id"]) == key:
            return p["id"]
    return key


def mixed_pool(pool_id: str) -> ArmError:
    return ArmError(
        400,
        "CannotMixIPBasedAddressesAndIPConfigurationsOnLoadBalancerBackendAddressPool",
        f"Backend address pool {pool_id} cannot have both IP-based backend addresses and NIC ip configurations.",
    )


def find_lb_child(store: Store, child: str) -> tuple[Record, str, dict[str, Any]] | None:
    """(LB record, collection, child body) for a child id such as ``.../loadBalancers/lb/backendAddressPools/p``."""
    parts = child.rstrip("/").split("/")
    if len(parts) < 4:
        return None
    coll = next((c for c in COLLECTIONS if c.lower() == parts[-2].lower()), None)
    rec = store.get(ids.parent_id(child))
    if coll is None or rec is None or rec.type.lower() != LB_TYPE.lower():
        return None
    for c in rec.body.get("properties", {}).get(coll) or []:
        if str(c.get("name", "")).lower() == parts[-1].lower():
            return rec, coll, c
    return None


# ------------------------------------------------------------------------------------------------ scale sets
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


def _refuse_if_members_deleting(ctx: Ctx, lb_id: str, old: dict[str, Any]) -> None:
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


def _require_frontend(props: dict[str, Any], what: str, child_id: str) -> None:
    """Rules and NAT pools must name the frontend they listen on."""
    if ref_id(props.get("frontendIPConfiguration")) is None:
        raise ArmError(400, "InvalidRequestFormat", f"{what} {child_id} needs a frontendIPConfiguration.")
