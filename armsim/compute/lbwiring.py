"""How a scale-set model may use load balancers, checked before anything is written.

The load balancer belongs to the network provider; compute only reads its stored body (pools, NAT pools, probes,
rules, frontends, SKU) to refuse what Azure's compute provider refuses when a scale set is written:

- a backend pool, NAT pool, probe or subnet that does not exist: 400 ``InvalidResourceReference`` (network's code
  and wording for dangling references; e.g. PaloAltoNetworks/ReferenceArchitectures#9);
- a health probe that no load-balancing rule uses: 400 ``CannotUseInactiveHealthProbe`` ("Azure Load Balancer
  error codes", learn.microsoft.com/troubleshoot/azure/load-balancer/load-balancer-common-deployment-errors);
- two public or two internal load balancers: 400 ``VMScaleSetCannotUseMultipleLoadBalancersOfSameType`` (same page);
- a Basic load balancer already serving another scale set: 400 ``VmIsNotInSameAvailabilitySetAsLb`` (the failure
  quoted in the Azure SDK's fluent tests, "... is using different Availability Set than other Virtual Machines
  connected to the Load Balancer(s)", and Azure/vm-scale-sets#11; a scale set is its own availability set);
- a NAT pool whose frontend port range is smaller than the instances that need a port: 400
  ``InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts`` (MicrosoftDocs/azure-docs#119323);
- a load balancer with an operation in progress: 429 ``RetryableError`` / ``ReferencedResourceNotProvisioned``
  (coreos/tectonic-installer#1460).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from armsim import ids
from armsim.compute.common import (
    LB_TYPE,
    VMSS_TYPE,
    VNET_TYPE,
    invalid_parameter,
    invalid_reference,
    ip_configs,
    props,
    ref_ids,
    same,
)
from armsim.errors import ArmError, referenced_resource_not_provisioned
from armsim.provider import Ctx
from armsim.store import Record

NatKey = tuple[str, str]  # (load balancer id, NAT pool name)


def child_of(ctx: Ctx, child_id: str, collection: str, referrer: str) -> tuple[Record, dict[str, Any]]:
    """The load balancer and the named child (``collection`` e.g. ``backendAddressPools``) an id points at."""
    parts = child_id.rstrip("/").split("/")
    lb = ctx.store.get(ids.parent_id(child_id)) if len(parts) > 2 else None
    if lb is None or lb.type != LB_TYPE or parts[-2].lower() != collection.lower():
        raise invalid_reference(child_id, referrer)
    name = parts[-1].lower()
    for child in (lb.body.get("properties") or {}).get(collection) or []:
        if str(child.get("name", "")).lower() == name:
            return lb, child
    raise invalid_reference(child_id, referrer)


def natpool_keys(cfgs: list[dict[str, Any]]) -> set[NatKey]:
    out: set[NatKey] = set()
    for _, ipc in ip_configs(cfgs):
        for pid in ref_ids((ipc.get("properties") or {}).get("loadBalancerInboundNatPools")):
            out.add((ids.key(ids.parent_id(pid)), ids.name_of(pid).lower()))
    return out


def lb_ids_of(cfgs: list[dict[str, Any]], profile: dict[str, Any] | None = None) -> set[str]:
    """Keys of every load balancer a model (NIC configurations plus health probe) refers to."""
    out: set[str] = set()
    for _, ipc in ip_configs(cfgs):
        p = ipc.get("properties") or {}
        for rid in ref_ids(p.get("loadBalancerBackendAddressPools")) + ref_ids(p.get("loadBalancerInboundNatPools")):
            out.add(ids.key(ids.parent_id(rid)))
    probe = (((profile or {}).get("networkProfile") or {}).get("healthProbe") or {}).get("id")
    if probe:
        out.add(ids.key(ids.parent_id(probe)))
    return out


def _is_public(lb: Record) -> bool:
    fes = (lb.body.get("properties") or {}).get("frontendIPConfigurations") or []
    return any((fe.get("properties") or {}).get("publicIPAddress") for fe in fes)


def _sku(lb: Record) -> str:
    return str((lb.body.get("sku") or {}).get("name") or "Basic")


def _owning_scale_set(rec: Record) -> str | None:
    if rec.type == VMSS_TYPE:
        return rec.id
    parts = rec.id.split("/")
    low = [p.lower() for p in parts]
    if "virtualmachinescalesets" in low:
        i = low.index("virtualmachinescalesets")
        return "/".join(parts[: i + 2])
    return None


@dataclass
class ModelCheck:
    """What validating a model found: the load balancers it uses (for later busy checks)."""

    lbs: dict[str, Record] = field(default_factory=dict)


def validate_model(ctx: Ctx, vmss_id: str, profile: dict[str, Any] | None, *, flexible: bool) -> ModelCheck:
    """Refuse a scale-set model Azure would refuse; see the module docstring for codes and sources."""
    check = ModelCheck()
    if not profile:
        return check
    net = profile.get("networkProfile") or {}
    cfgs = [c for c in net.get("networkInterfaceConfigurations") or [] if isinstance(c, dict)]
    for _, ipc in ip_configs(cfgs):
        p = ipc.get("properties") or {}
        subnet = (p.get("subnet") or {}).get("id")
        if subnet:
            _check_subnet(ctx, subnet, vmss_id)
        for pid in ref_ids(p.get("loadBalancerBackendAddressPools")):
            lb, _ = child_of(ctx, pid, "backendAddressPools", vmss_id)
            check.lbs[ids.key(lb.id)] = lb
        for npid in ref_ids(p.get("loadBalancerInboundNatPools")):
            if flexible:
                raise invalid_parameter(
                    "Inbound NAT pools are not supported on virtual machine scale sets with Flexible orchestration "
                    "mode. Use inbound NAT rules (V2) with a backend pool instead."
                )
            lb, _ = child_of(ctx, npid, "inboundNatPools", vmss_id)
            check.lbs[ids.key(lb.id)] = lb
            for other in ctx.store.referrers(npid):
                owner = _owning_scale_set(other)
                if owner and not same(owner, vmss_id):
                    # seed 001: "One inbound NAT pool cannot support multiple virtual machine scale sets" (the
                    # per-instance rules {pool}.{instanceId} would collide). Azure's code for it is unconfirmed.
                    raise invalid_parameter(
                        f"Inbound NAT pool {npid} is already used by virtual machine scale set {owner}. One inbound "
                        f"NAT pool cannot support multiple virtual machine scale sets."
                    )
    probe_id = (net.get("healthProbe") or {}).get("id")
    if probe_id:
        lb, _ = child_of(ctx, probe_id, "probes", vmss_id)
        rules = (lb.body.get("properties") or {}).get("loadBalancingRules") or []
        if not any(same(((r.get("properties") or {}).get("probe") or {}).get("id"), probe_id) for r in rules):
            raise ArmError(
                400,
                "CannotUseInactiveHealthProbe",
                f"Virtual Machine Scale Set {vmss_id} cannot use probe {probe_id} as a health probe because load "
                f"balancer {lb.id} does not use the probe in any load balancing rule.",
            )
        check.lbs[ids.key(lb.id)] = lb
    public = [lb for lb in check.lbs.values() if _is_public(lb)]
    internal = [lb for lb in check.lbs.values() if not _is_public(lb)]
    for group, kind in ((public, "public"), (internal, "internal")):
        if len(group) > 1:
            raise ArmError(
                400,
                "VMScaleSetCannotUseMultipleLoadBalancersOfSameType",
                f"Virtual Machine Scale Set {vmss_id} cannot use more than one {kind} load balancer: "
                f"{', '.join(sorted(lb.id for lb in group))}. Use at most one public and one internal load balancer.",
            )
    for lb in check.lbs.values():
        if _sku(lb).lower() != "basic":
            continue
        for other in ctx.store.referrers(lb.id, include_children=True):
            owner = _owning_scale_set(other)
            if owner and not same(owner, vmss_id):
                raise ArmError(
                    400,
                    "VmIsNotInSameAvailabilitySetAsLb",
                    f"Virtual Machine Scale Set {vmss_id} is using different Availability Set than other Virtual "
                    f"Machines connected to the Load Balancer(s) {lb.body.get('name')}: Basic load balancer {lb.id} "
                    f"already serves virtual machine scale set {owner}.",
                )
    return check


def _check_subnet(ctx: Ctx, subnet_id: str, referrer: str) -> None:
    vnet = ctx.store.get(ids.parent_id(subnet_id))
    if vnet is None or vnet.type != VNET_TYPE:
        raise invalid_reference(subnet_id, referrer)
    subnets = (vnet.body.get("properties") or {}).get("subnets")
    if subnets is None:
        return  # the network provider keeps subnets elsewhere: trust the vnet
    if not any(str(s.get("name", "")).lower() == ids.name_of(subnet_id).lower() for s in subnets):
        raise invalid_reference(subnet_id, referrer)


def check_not_busy(ctx: Ctx, lb_keys: set[str], vmss_id: str) -> None:
    """Refuse with Azure's retryable 429 while a load balancer the operation must update is being written."""
    for k in sorted(lb_keys):
        op = ctx.engine.is_busy(k)
        if op is None:
            continue
        lb = ctx.store.get(k)
        raise referenced_resource_not_provisioned(
            lb.id if lb else k, vmss_id, op.due - time.monotonic(), ctx.engine.config.time_scale
        )


def check_natpool_capacity(ctx: Ctx, demand: dict[NatKey, int]) -> None:
    """Refuse when more instances need a NAT-pool port than the pool's frontend port range holds."""
    for (lb_key, pool_name), needed in sorted(demand.items()):
        lb = ctx.store.get(lb_key)
        if lb is None:
            continue
        for pool in (lb.body.get("properties") or {}).get("inboundNatPools") or []:
            if str(pool.get("name", "")).lower() != pool_name:
                continue
            pp = props(pool)
            start, end = pp.get("frontendPortRangeStart"), pp.get("frontendPortRangeEnd")
            if isinstance(start, int) and isinstance(end, int) and needed > end - start + 1:
                raise ArmError(
                    400,
                    "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts",
                    f"Number of frontend ports ({end - start + 1}) in the range {start}-{end} of inbound NAT pool "
                    f"{lb.id}/inboundNatPools/{pool.get('name')} is smaller than the number of ports requested "
                    f"({needed}) by the virtual machine scale set instances.",
                )
