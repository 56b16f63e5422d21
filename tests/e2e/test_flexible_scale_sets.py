"""Issue 13, "Flexible scale sets arrive wired", end to end: armsim over HTTPS, Event Grid, ``poolkeeper serve``.

An operator creates a Flexible scale set bound by the configuration: poolkeeper writes the pool into its model once
and joins the existing members per NIC. Then the operator scales out: the new members are created by Azure from the
model, already in the pool, and poolkeeper (which reads the events) writes nothing for them — its writes are
counted from armsim's request log, poolkeeper's principal only. Without the model write every new member would cost
poolkeeper a NIC write after it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from armsim.simulator import DEFAULT_SUBSCRIPTION
from armsim.waiting import wait_until
from tests.e2e.conftest import RG, Poolkeeper

pytestmark = pytest.mark.slow

VMSS = "myFlex"
RG_ID = f"/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/{RG}"


def _config() -> dict[str, Any]:
    rg_id = RG_ID
    return {"scopes": [rg_id],  # armEndpoint: POOLKEEPER_ARM_ENDPOINT, set by LocalRun
            "bindings": [{"name": "flex", "match": {"scaleSet": VMSS},
                          "loadBalancer": f"{rg_id}/providers/Microsoft.Network/loadBalancers/myLoadBalancer",
                          "backendPool": "myBackEndPool",
                          "natRule": {"backendPort": 22, "protocol": "Tcp", "mode": "v2",
                                      "frontendIpConfiguration": "myFrontEndPool",
                                      "frontendPortRange": [50001, 50099]}}]}


def _flexible(capacity: int) -> dict[str, Any]:
    """A Flexible scale set on the tutorial's subnet, its model in no pool (the operator forgot the load balancer)."""
    subnet = f"{RG_ID}/providers/Microsoft.Network/virtualNetworks/myVnet/subnets/mySubnet"
    return {"location": "westus", "sku": {"name": "Standard_B1s", "capacity": capacity},
            "properties": {"orchestrationMode": "Flexible", "platformFaultDomainCount": 1,
                           "virtualMachineProfile": {
                               "storageProfile": {"imageReference": {
                                   "publisher": "Canonical", "offer": "UbuntuServer", "sku": "14.04.4-LTS",
                                   "version": "latest"}},
                               "osProfile": {"computerNamePrefix": "myflex", "adminUsername": "azureuser"},
                               "networkProfile": {"networkApiVersion": "2020-11-01",
                                                  "networkInterfaceConfigurations": [
                                   {"name": "myFlexNic", "properties": {"primary": True, "ipConfigurations": [
                                       {"name": "ipconfig1", "properties": {"primary": True,
                                                                            "subnet": {"id": subnet}}}]}}]}}}}


def _members(pk: Poolkeeper) -> dict[str, dict[str, Any]]:
    """Member VM name → its NIC body, for the members of the Flexible scale set."""
    out = {}
    for vm in pk.operator.compute.virtual_machines.list(RG):
        if vm.virtual_machine_scale_set and vm.virtual_machine_scale_set.id.lower().endswith(f"/{VMSS.lower()}"):
            nic = vm.network_profile.network_interfaces[0].id.rsplit("/", 1)[-1]
            out[vm.name] = pk.operator.network.network_interfaces.get(RG, nic).as_dict()
    return out


def _pooled(nic: dict[str, Any]) -> bool:
    ipc = nic["properties"]["ipConfigurations"][0].get("properties") or {}
    return any(p["id"].lower().endswith("/backendaddresspools/mybackendpool")
               for p in ipc.get("loadBalancerBackendAddressPools") or [])


def _model_pools(pk: Poolkeeper) -> list[str]:
    body = pk.operator.compute.virtual_machine_scale_sets.get(RG, VMSS).as_dict()
    ipc = body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    return [p["id"].rsplit("/", 1)[-1] for p in ipc["properties"]["ipConfigurations"][0]["properties"]
            .get("loadBalancerBackendAddressPools") or []]


def _kind(entry: dict[str, Any]) -> str:
    path = entry["path"].lower()
    for marker, kind in (("/networkinterfaces/", "nic"), ("/virtualmachinescalesets/", "scaleSet"),
                         ("/loadbalancers/", "loadBalancer")):
        if marker in path:
            return kind
    return path


def test_flexible_scale_set_model_wired_once_then_new_members_arrive_wired(
        poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory(config=_config())
    assert pk.sim.subscription_id == DEFAULT_SUBSCRIPTION
    me = pk.poolkeeper_oid()

    # 1. the operator creates the scale set with 2 members, in no pool; the events reach poolkeeper
    pk.operator.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, _flexible(2)).result()
    first = set(_members(pk))
    assert len(first) == 2
    assert wait_until(lambda: _model_pools(pk) == ["myBackEndPool"] and all(map(_pooled, _members(pk).values())))
    pk.flush_events()
    writes = pk.writes_by(me)
    by_kind = sorted(_kind(e) for e in writes)
    # one model write (no upgrade: Flexible members are VMs), one LB write (the NAT rule V2 over the pool), and
    # the two existing members joined per NIC
    assert by_kind == ["loadBalancer", "nic", "nic", "scaleSet"], [(e["method"], e["path"]) for e in writes]
    assert not any(e["path"].lower().endswith("/manualupgrade") for e in writes)
    scale_set_write = next(e for e in writes if _kind(e) == "scaleSet")
    assert scale_set_write["method"] == "PUT"
    members = _members(pk)
    assert {m for m, nic in members.items() if (nic.get("tags") or {}).get("poolkeeper.binding") == "flex"} == first
    vmss = pk.operator.compute.virtual_machine_scale_sets.get(RG, VMSS).as_dict()
    assert not any(k.startswith("poolkeeper.upgrade") for k in vmss.get("tags") or {})  # nothing to upgrade
    assert vmss["properties"]["virtualMachineProfile"]["networkProfile"]["networkApiVersion"] == "2020-11-01"

    # 2. the operator scales out by 3: the new members are created from the model, in the pool
    pk.sim.reset_log()
    vmss["sku"]["capacity"] = 5
    pk.operator.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    members = _members(pk)
    new = set(members) - first
    assert len(new) == 3 and all(_pooled(members[m]) for m in new)
    pk.flush_events()
    log = pk.sim.requests_log()
    mine = [e for e in log if e.get("principal") == me]
    assert [e for e in mine if e["kind"] != "read"] == [], "poolkeeper wrote nothing for the new members"
    assert any(e["kind"] == "read" for e in mine), "poolkeeper did read the scale-out's events"
    assert not [e for e in pk.writes() if _kind(e) == "nic"], "no NIC was written by anyone"
    # and a full reconcile agrees that nothing is left to do
    resp = pk.post("reconcile", {})
    assert resp.status_code == 200, resp.text
    assert [c for o in resp.json()["outcomes"] for c in o["plan"]["changes"]] == []


def test_member_created_wired_and_taken_out_by_a_person_stays_out(
        poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    """Never fight a person, for members Azure created in the pool (no poolkeeper tag on their NIC): the model write
    recorded ``poolkeeper.flexwired`` (binding and time), so a later member found outside the pool was taken out by
    someone. The event path and a full reconcile leave it out and report ``RemovedByPerson``; a sweep reports PK013.
    The grace window is 0 here (``flexibleWiredGraceSeconds``) so that members created seconds later count."""
    pk = poolkeeper_factory(config={**_config(), "flexibleWiredGraceSeconds": 0})
    me = pk.poolkeeper_oid()

    # 1. an empty Flexible scale set: poolkeeper writes the pool into its model, with the record, in one PUT
    pk.operator.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, _flexible(0)).result()
    assert wait_until(lambda: _model_pools(pk) == ["myBackEndPool"])
    pk.flush_events()
    vmss = pk.operator.compute.virtual_machine_scale_sets.get(RG, VMSS).as_dict()
    record = (vmss.get("tags") or {}).get("poolkeeper.flexwired", "")
    assert record.endswith(";flex"), vmss.get("tags")
    assert [e["method"] for e in pk.writes_by(me) if _kind(e) == "scaleSet"] == ["PUT"]  # pool and record together

    # 2. the operator scales out: Azure creates the members in the pool; poolkeeper writes nothing
    vmss["sku"]["capacity"] = 2
    pk.operator.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    members = _members(pk)
    assert len(members) == 2 and all(map(_pooled, members.values()))
    assert not any((nic.get("tags") or {}) for nic in members.values()), "created by Azure: no poolkeeper tag"
    pk.flush_events()

    # 3. the operator takes one member's NIC out of the pool to patch it (az network nic ip-config address-pool
    #    remove: GET, drop the pool, PUT)
    patched = sorted(members)[0]
    nic_name = members[patched]["name"]
    pk.sim.reset_log()
    nics = pk.operator.network.network_interfaces
    body = nics.get(RG, nic_name).as_dict()
    body["properties"]["ipConfigurations"][0]["properties"]["loadBalancerBackendAddressPools"] = []
    nics.begin_create_or_update(RG, nic_name, body).result()
    pk.flush_events()  # the person's NIC write reaches poolkeeper's event path, which must not undo it
    assert not _pooled(_members(pk)[patched]), "the event path put the NIC back: it fought the person"
    assert [e for e in pk.writes_by(me)] == []

    # 4. a full reconcile leaves it out too, and says why
    resp = pk.post("reconcile", {})
    assert resp.status_code == 200, resp.text
    outcomes = resp.json()["outcomes"]
    assert [c for o in outcomes for c in o["plan"]["changes"]] == []
    held = [f for o in outcomes for f in o["plan"]["findings"] if f["guardrail"] == "RemovedByPerson"]
    assert [f["resourceId"].rsplit("/", 1)[-1].lower() for f in held] == [nic_name.lower()], held
    assert not _pooled(_members(pk)[patched])

    # 5. and so does a sweep, which reports it as PK013 (removed by someone else), the other member untouched
    answer = pk.post("sweep", dryRun="false")
    assert answer.status_code == 200, answer.text
    pk013 = answer.json()["findingsByGuardrail"].get("PK013", [])
    assert [(f["resourceId"].rsplit("/", 1)[-1].lower(), f["evidence"].get("kind")) for f in pk013] == [
        (nic_name.lower(), "removedByPerson")], pk013
    after = _members(pk)
    assert not _pooled(after[patched]) and all(_pooled(n) for m, n in after.items() if m != patched)
    assert pk.writes_by(me) == []
