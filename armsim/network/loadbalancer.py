"""Load balancers with all their child collections, back-references and Azure's refusals.

Split by concern (issue 10): this module is the provider (prepare, delete, actions, rendered back-references);
lb_checks.py validates a PUT, lb_natports.py hands out NAT rule V2 ports, lb_natpools.py derives scale-set NAT rules
from NAT pools, lb_common.py holds what they share, backend_addresses.py the pool's addresses and admin state,
retirement.py what can no longer be created.

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
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError, not_found
from armsim.network.backend_addresses import render_backend_addresses
from armsim.network.common import (
    decorate_children,
    enum_value,
    ipconfigs_referencing,
    new_guid,
    prepare_children,
    ref,
    ref_id,
    scale_set_id,
    scale_sets_referencing,
    stored_body,
)
from armsim.network.retirement import refuse_basic_load_balancer, refuse_new_nat_pools
from armsim.provider import ActionResult, Ctx, Provider, registered
from armsim.store import Record

if TYPE_CHECKING:
    pass
from armsim.network.lb_checks import (
    allocate_frontends,
    check_conflicts,
    check_references,
    check_removals,
    refuse_if_members_deleting,
    refuse_nat_rule_changes,
    validate_children,
)
from armsim.network.lb_common import (
    _READONLY,
    COLLECTIONS,
    LB_TYPE,
    META_DERIVED,
    QUERY_PORT_MAPPING,
    _child_type,
    _derived,
    find_lb_child,
    mixed_pool,
    sibling_references,
)
from armsim.network.lb_natpools import set_natpool_rules
from armsim.network.lb_natports import _assign_v2_ports, _query_member, add_port_mappings, shows_port_mappings

__all__ = [
    "LB_TYPE",
    "LoadBalancerNetworkInterfacesProvider",
    "LoadBalancerProvider",
    "find_lb_child",
    "mixed_pool",
    "set_natpool_rules",
]


@registered
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
        validate_children(ctx, resource_id, props, sku["name"])
        # NAT rules while a NAT pool exists: "pass in all NAT rules unchanged or remove the LoadBalancerInboundNatRules
        # property" (azure-docs#59705) — an absent property keeps the current rules.
        user_old = [r for r in old.get("inboundNatRules") or [] if r["name"].lower() not in derived]
        if props["inboundNatPools"]:
            if "inboundNatRules" not in incoming:
                props["inboundNatRules"] = copy.deepcopy(user_old)
            else:
                refuse_nat_rule_changes(resource_id, props["inboundNatRules"], user_old)
        check_references(ctx, resource_id, props, sku["name"])
        refuse_if_members_deleting(ctx, resource_id, old)
        check_removals(ctx, resource_id, props, old, derived)
        allocate_frontends(ctx, resource_id, props, old)
        # NAT-pool-derived rules belong to the scale set: keep them unless their pool is gone
        pools = {p["name"].lower() for p in props["inboundNatPools"]}
        kept_derived = [
            copy.deepcopy(r)
            for r in old.get("inboundNatRules") or []
            if r["name"].lower() in derived and derived[r["name"].lower()]["pool"].lower() in pools
        ]
        props["inboundNatRules"] = props["inboundNatRules"] + kept_derived
        check_conflicts(resource_id, props, derived)
        if rec is not None:  # the engine copies this record's meta into the new one
            rec.meta[META_DERIVED] = {k: v for k, v in derived.items() if v["pool"].lower() in pools}
        props["resourceGuid"] = old.get("resourceGuid") or new_guid()
        return stored_body(body, props, sku=sku)

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

        for coll, child, targets in sibling_references(props):
            for _target_coll, target in targets:
                add(target, coll, child["id"])
        for rule in props["inboundNatRules"]:
            rp = rule["properties"]
            if ref_id(rp.get("backendAddressPool")) is None:
                users = ipconfigs_referencing(ctx.store, rule["id"], "loadBalancerInboundNatRules")
                d = derived.get(rule["name"].lower())
                if users:
                    rp["backendIPConfiguration"] = ref(users[0][0])
                elif d and d.get("ipconfig"):
                    rp["backendIPConfiguration"] = ref(d["ipconfig"])
        for pool in props["backendAddressPools"]:
            users = ipconfigs_referencing(ctx.store, pool["id"], "loadBalancerBackendAddressPools")
            if users:
                pool["properties"]["backendIPConfigurations"] = [ref(u[0]) for u in users]
            pool["properties"]["loadBalancerBackendAddresses"] = render_backend_addresses(pool, [u[0] for u in users])
            if rec is not None and shows_port_mappings(ctx.api_version):
                add_port_mappings(ctx, rec, pool)
        for coll in ("frontendIPConfigurations", "backendAddressPools", "probes"):
            for child in props[coll]:
                for key, sources in back.get(ids.key(child["id"]), {}).items():
                    child["properties"][key] = [ref(s) for s in sources]
        return body


@registered
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
