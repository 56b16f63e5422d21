"""What every Microsoft.Network provider shares: reference errors, enum checks, child bookkeeping, ip configurations.

Error codes and messages here are Azure's own, so that clients (the SDK, az, poolkeeper) can branch on them:

- ``InvalidResourceReference`` ("Resource X referenced by resource Y was not found. Please make sure that the
  referenced resource exists, and that both resources are in the same region.") — message seen in
  Azure/azure-libraries-for-net#740; code in MicrosoftDocs/azure-docs#59705.
- ``InvalidRequestFormat`` ("Cannot parse the request.") with an ``InvalidJson`` detail is what NRP answers for a
  value it cannot convert to its enum (e.g. protocol ``Tpc``); the detail message here names the allowed values.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from armsim import ids
from armsim.errors import ArmError

if TYPE_CHECKING:
    from armsim.provider import Ctx
    from armsim.store import Record, Store

NET = "Microsoft.Network"
VMSS_TYPE = "Microsoft.Compute/virtualMachineScaleSets"
VMSS_VM_TYPE = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
VM_TYPE = "Microsoft.Compute/virtualMachines"


def ref(resource_id: str) -> dict[str, str]:
    return {"id": resource_id}


def ref_id(value: Any) -> str | None:
    """The id inside a ``{"id": ...}`` reference, or None."""
    if isinstance(value, dict) and isinstance(value.get("id"), str) and value["id"]:
        return value["id"]
    return None


def ref_ids(values: Any) -> list[str]:
    return [i for i in (ref_id(v) for v in (values or [])) if i]


def same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and ids.key(a) == ids.key(b)


def is_internal(ctx: Ctx) -> bool:
    """A write made by armsim itself (scenario builder, another provider): it may set read-only back-references."""
    return not ctx.url


def invalid_reference(target: str, referrer: str) -> ArmError:
    return ArmError(
        400,
        "InvalidResourceReference",
        f"Resource {target} referenced by resource {referrer} was not found. Please make sure that the referenced "
        f"resource exists, and that both resources are in the same region.",
    )


def enum_value(value: Any, allowed: tuple[str, ...], path: str, type_name: str) -> str:
    """Canonical casing of an enum value, or NRP's parse error naming the property and the allowed values."""
    if isinstance(value, str):
        for a in allowed:
            if a.lower() == value.lower():
                return a
    raise ArmError(
        400,
        "InvalidRequestFormat",
        f"Cannot parse the request: '{path}' is {value!r}, which is not a valid {type_name}. "
        f"Allowed values: {', '.join(allowed)}.",
        details=[
            {
                "code": "InvalidJson",
                "message": f"Error converting value {value!r} to type '{type_name}'. Path '{path}'. "
                f"Allowed values: {', '.join(allowed)}.",
            }
        ],
    )


def int_value(value: Any, path: str, lo: int, hi: int) -> int:
    # A string holding an integer is accepted, as NRP's JSON deserializer does: az's generated scale-set template
    # sends "frontendPortRangeStart": "50000" (azure-cli command_modules/vm/_template_builder.py) and Azure deploys it.
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float) or int(value) != value:
        raise ArmError(
            400, "InvalidRequestFormat", f"Cannot parse the request: '{path}' must be an integer, got {value!r}."
        )
    v = int(value)
    if not lo <= v <= hi:
        raise ArmError(400, "InvalidRequestFormat", f"'{path}' is {v}; it must be between {lo} and {hi}.")
    return v


def new_guid() -> str:
    return str(uuid.uuid4())


def stored_body(body: dict[str, Any], props: dict[str, Any], **resolved: Any) -> dict[str, Any]:
    """What a provider's ``prepare`` returns: the request's own top-level keys (``location``, ``tags``, … but not
    ``etag``, ``id``, ``name`` or ``type``, which ARM sets), the ones it ``resolved`` (``sku``), and ``props``."""
    kept = {k: v for k, v in body.items() if k not in ("etag", "id", "name", "type", "properties", *resolved)}
    return {**kept, **resolved, "properties": props}


def child_id(parent_id: str, collection: str, name: str) -> str:
    return f"{parent_id}/{collection}/{name}"


def prepare_children(
    parent_id: str, items: Any, collection: str, path: str, readonly: frozenset[str]
) -> list[dict[str, Any]]:
    """Normalise a child collection from a PUT body: names required and unique, ids set, read-only keys dropped.

    Clients echo GET bodies back, so child ``etag``, ``type``, ``provisioningState`` and back-references arrive and
    must be ignored rather than stored.
    """
    if items is None:
        return []
    if not isinstance(items, list):
        raise ArmError(400, "InvalidRequestFormat", f"Cannot parse the request: '{path}' must be an array.")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise ArmError(400, "InvalidRequestFormat", f"Cannot parse the request: '{path}[{i}]' must be an object.")
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ArmError(
                400, "InvalidRequestFormat", f"'{path}[{i}].name' is required: every {collection} entry needs a name."
            )
        if name.lower() in seen:
            raise ArmError(
                400,
                "DuplicateResourceName",
                f"Resource {parent_id} has two child resources with the same name ({name}) in '{collection}'.",
            )
        seen.add(name.lower())
        props = item.get("properties") or {}
        if not isinstance(props, dict):
            raise ArmError(400, "InvalidRequestFormat", f"'{path}[{i}].properties' must be an object.")
        clean = {k: v for k, v in props.items() if k not in readonly and k != "provisioningState"}
        child: dict[str, Any] = {"name": name, "id": child_id(parent_id, collection, name), "properties": clean}
        for extra in ("zones",):
            if extra in item:
                child[extra] = item[extra]
        out.append(child)
    return out


def decorate_children(body: dict[str, Any], collection: str, child_type: str | None) -> None:
    """Give each child of a rendered resource its type, the parent's etag and a provisioning state (as NRP does)."""
    props = body.get("properties", {})
    state = props.get("provisioningState", "Succeeded")
    for child in props.get(collection) or []:
        if child_type:
            child["type"] = child_type
        if "etag" in body:
            child["etag"] = body["etag"]
        child.setdefault("properties", {})["provisioningState"] = state


def find_child(body: dict[str, Any], collection: str, child: str) -> dict[str, Any] | None:
    for c in body.get("properties", {}).get(collection) or []:
        if same(c.get("id"), child) or str(c.get("name", "")).lower() == ids.name_of(child).lower():
            return c
    return None


def resource_of_child(child: str) -> str:
    """The top-level resource id of a child id (``.../loadBalancers/lb/backendAddressPools/p`` -> the LB)."""
    return ids.parent_id(child)


# ---------------------------------------------------------------------------------------------- ip configurations
def ip_configurations(rec: Record) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every NIC ip configuration a record holds, as (ipconfig id, ipconfig properties, NIC-level properties).

    Handles network interfaces (standalone or scale-set instance NICs stored by the compute provider, whatever
    their type) and scale-set instances that only carry ``networkProfileConfiguration`` — for those the id is the
    one Azure gives instance NICs: ``{instance}/networkInterfaces/{nic config}/ipConfigurations/{ip config}``.
    """
    props = rec.body.get("properties") or {}
    if isinstance(props.get("ipConfigurations"), list):
        for ipc in props["ipConfigurations"]:
            if isinstance(ipc, dict) and ipc.get("name"):
                yield f"{rec.id}/ipConfigurations/{ipc['name']}", ipc.get("properties") or {}, props
        return
    if rec.type.lower() == VMSS_VM_TYPE.lower():
        npc = props.get("networkProfileConfiguration") or {}
        for nic in npc.get("networkInterfaceConfigurations") or []:
            nic_props = nic.get("properties") or {}
            for ipc in nic_props.get("ipConfigurations") or []:
                if isinstance(ipc, dict) and ipc.get("name"):
                    yield (
                        f"{rec.id}/networkInterfaces/{nic.get('name')}/ipConfigurations/{ipc['name']}",
                        ipc.get("properties") or {},
                        nic_props,
                    )


def ipconfigs_referencing(store: Store, target: str, key: str) -> list[tuple[str, dict[str, Any], Record]]:
    """(ipconfig id, properties, record) of every ip configuration whose ``key`` references ``target``.

    ``key`` is a list property (``loadBalancerBackendAddressPools``) or a single reference (``subnet``).
    """
    out: list[tuple[str, dict[str, Any], Record]] = []
    seen: set[str] = set()
    for rec in store.referrers(target):
        for ipc_id, ipc, _nic in ip_configurations(rec):
            value = ipc.get(key)
            hit = (
                any(same(i, target) for i in ref_ids(value)) if isinstance(value, list) else same(ref_id(value), target)
            )
            if hit and ids.key(ipc_id) not in seen:
                seen.add(ids.key(ipc_id))
                out.append((ipc_id, ipc, rec))
    return out


def scale_sets_referencing(store: Store, target: str) -> list[Record]:
    """Scale-set models and instances that reference ``target`` (a pool, NAT pool or probe)."""
    types = {VMSS_TYPE.lower(), VMSS_VM_TYPE.lower()}
    return [r for r in store.referrers(target) if r.type.lower() in types]


def scale_set_id(rec: Record) -> str:
    """The scale set of a scale-set model or instance record."""
    return ids.parent_id(rec.id) if rec.type.lower() == VMSS_VM_TYPE.lower() else rec.id
