"""Availability sets and virtual machines through the real azure-mgmt-compute client (and raw ARM where the SDK hides
status codes and headers)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest

from tests.conftest import SimHandle
from tests.reference import REFERENCE_DIR

REF = REFERENCE_DIR
RG = "myTutorial8"
API = "2024-07-01"


def ref_body(name: str, status: str = "200") -> Any:
    return json.loads((REF / name).read_text())["responses"][status]["body"]


def missing_keys(ref: Any, got: Any, path: str = "", ignore: frozenset[str] = frozenset()) -> list[str]:
    """Keys of the published response absent from ours (recursively; lists compared item by item)."""
    out: list[str] = []
    if isinstance(ref, dict):
        if not isinstance(got, dict):
            return [path or "."]
        for k, v in ref.items():
            if k in ignore:
                continue
            if k not in got:
                out.append(f"{path}.{k}")
            else:
                out += missing_keys(v, got[k], f"{path}.{k}", ignore)
    elif isinstance(ref, list) and ref and isinstance(got, list) and got:
        for i, item in enumerate(ref[: len(got)]):
            out += missing_keys(item, got[i], f"{path}[{i}]", ignore)
    return out


def vm_path(sim: SimHandle, name: str, rg: str = RG) -> str:
    rg_path = f"/subscriptions/{sim.subscription_id}/resourceGroups/{rg}"
    return f"{rg_path}/providers/Microsoft.Compute/virtualMachines/{name}"


def net_id(sim: SimHandle, rest: str, rg: str = RG) -> str:
    return f"/subscriptions/{sim.subscription_id}/resourceGroups/{rg}/providers/Microsoft.Network/{rest}"


def make_nic(sim: SimHandle, name: str, rg: str = RG) -> str:
    nic_id = net_id(sim, f"networkInterfaces/{name}", rg)
    sim.sim.call(lambda: sim.engine.internal_put(nic_id, {"location": "westus", "properties": {"ipConfigurations": [
        {"name": "ipconfig1", "properties": {"subnet": {"id": net_id(sim, "virtualNetworks/myVnet/subnets/mySubnet")},
                                             "privateIPAllocationMethod": "Dynamic"}}]}}))
    return nic_id


def vm_body(nic_id: str, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "location": "westus",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_DS1_v2"},
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer",
                                                  "sku": "18.04-LTS", "version": "latest"},
                               "osDisk": {"createOption": "FromImage"}},
            "osProfile": {"computerName": "vm", "adminUsername": "azureuser", "adminPassword": "not-a-secret"},
            "networkProfile": {"networkInterfaces": [{"id": nic_id}]},
        },
    }
    body["properties"].update(extra)
    return body


def wait_op(sim: SimHandle, url: str, timeout: float = 10) -> dict[str, Any]:
    token = None
    deadline = time.time() + timeout
    while True:
        path = url.split("/", 3)[3]
        resp = sim.arm("GET", "/" + path, api_version="", token=token)
        body = resp.json()
        if body.get("status") != "InProgress" or time.time() > deadline:
            return body
        time.sleep(0.02)


def test_tutorial_availability_set_and_vms(tutorial: SimHandle) -> None:
    c = tutorial.clients()
    avset = c.compute.availability_sets.get(RG, "myAvailabilitySet")
    assert (avset.platform_fault_domain_count, avset.platform_update_domain_count) == (3, 2)
    # az 2.91 creates a managed ("Aligned") availability set and VMs on managed disks; "Classic" is tutorial-basic's
    assert avset.sku.name == "Aligned"
    assert sorted(v.id.split("/")[-1] for v in avset.virtual_machines) == ["myVM1", "myVM2", "myVM3"]
    for i in (1, 2, 3):
        vm = c.compute.virtual_machines.get(RG, f"myVM{i}")
        assert vm.provisioning_state == "Succeeded"
        assert vm.storage_profile.os_disk.managed_disk.id.lower().endswith(
            f"/disks/{vm.storage_profile.os_disk.name}".lower())
        assert vm.storage_profile.os_disk.vhd is None
        assert vm.etag == '"1"'
        assert vm.vm_id
        assert vm.availability_set.id.endswith("/availabilitySets/myAvailabilitySet")
        assert vm.network_profile.network_interfaces[0].id.endswith(f"/networkInterfaces/myNic{i}")
        nic = c.network.network_interfaces.get(RG, f"myNic{i}")
        assert nic.virtual_machine.id.lower() == vm.id.lower()
    assert sorted(v.name for v in c.compute.virtual_machines.list(RG)) == ["myVM1", "myVM2", "myVM3"]
    assert len(list(c.compute.virtual_machines.list_all())) == 3


def test_instance_view_and_power_actions(tutorial: SimHandle) -> None:
    c = tutorial.clients()

    def power() -> str:
        view = c.compute.virtual_machines.instance_view(RG, "myVM1")
        return next(s.code for s in view.statuses if s.code.startswith("PowerState/"))

    assert power() == "PowerState/running"
    expanded = c.compute.virtual_machines.get(RG, "myVM1", expand="instanceView")
    assert any(s.code == "PowerState/running" for s in expanded.instance_view.statuses)
    assert c.compute.virtual_machines.get(RG, "myVM1").instance_view is None
    c.compute.virtual_machines.begin_power_off(RG, "myVM1").result()
    assert power() == "PowerState/stopped"
    c.compute.virtual_machines.begin_deallocate(RG, "myVM1").result()
    assert power() == "PowerState/deallocated"
    c.compute.virtual_machines.begin_start(RG, "myVM1").result()
    assert power() == "PowerState/running"
    c.compute.virtual_machines.begin_restart(RG, "myVM1").result()
    assert power() == "PowerState/running"
    resp = tutorial.arm("POST", vm_path(tutorial, "myVM2") + "/powerOff")
    assert resp.status_code == 202
    assert "/providers/Microsoft.Compute/locations/westus/" in resp.headers["Location"]


def test_vm_create_is_long_running_with_compute_etags(tutorial: SimHandle) -> None:
    c = tutorial.clients()
    nic = make_nic(tutorial, "extraNic")
    resp = tutorial.arm("PUT", vm_path(tutorial, "extraVM"), vm_body(nic))
    assert resp.status_code == 201
    assert resp.json()["properties"]["provisioningState"] == "Creating"
    assert "adminPassword" not in resp.json()["properties"]["osProfile"]
    assert resp.headers["ETag"] == '"1"'
    status_url = resp.headers["Azure-AsyncOperation"]
    assert "/providers/Microsoft.Compute/locations/westus/operations/" in status_url
    assert "x-ms-ratelimit-remaining-resource" in resp.headers
    assert resp.headers["x-ms-ratelimit-remaining-resource"].startswith("Microsoft.Compute/PutVM3Min;")
    busy = tutorial.arm("PUT", vm_path(tutorial, "extraVM"), vm_body(nic))
    assert busy.status_code == 409
    assert busy.json()["error"]["code"] == "AnotherOperationInProgress"
    final = wait_op(tutorial, status_url)
    assert final["status"] == "Succeeded"
    published = json.loads((REF / "lro_compute_start_vm_asyncoperation_status_InProgress.json").read_text())
    assert set(published) <= set(final)
    vm = c.compute.virtual_machines.get(RG, "extraVM")
    assert vm.provisioning_state == "Succeeded"
    assert c.network.network_interfaces.get(RG, "extraNic").virtual_machine.id.lower() == vm.id.lower()
    vm.tags = {"role": "web"}
    updated = c.compute.virtual_machines.begin_create_or_update(RG, "extraVM", vm).result()
    assert updated.etag == '"2"'
    assert updated.vm_id == vm.vm_id
    stale = tutorial.arm("PATCH", vm_path(tutorial, "extraVM"), {"tags": {"x": "y"}}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    ok = tutorial.arm("PATCH", vm_path(tutorial, "extraVM"), {"tags": {"x": "y"}}, headers={"If-Match": '"2"'})
    assert ok.status_code == 200
    assert ok.headers["ETag"] == '"3"'


def test_vm_nic_refusals(tutorial: SimHandle) -> None:
    missing = tutorial.arm("PUT", vm_path(tutorial, "badVM"), vm_body(net_id(tutorial, "networkInterfaces/nope")))
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "NotFound"
    in_use = tutorial.arm("PUT", vm_path(tutorial, "badVM"), vm_body(net_id(tutorial, "networkInterfaces/myNic1")))
    assert in_use.status_code == 400
    assert in_use.json()["error"]["code"] == "NicInUse"
    assert tutorial.arm("GET", vm_path(tutorial, "badVM")).status_code == 404
    avset = tutorial.arm("PUT", vm_path(tutorial, "myVM1"), {"location": "westus", "properties": {
        "networkProfile": {"networkInterfaces": [{"id": net_id(tutorial, "networkInterfaces/myNic1")}]}}})
    assert avset.status_code == 409
    assert avset.json()["error"]["code"] == "PropertyChangeNotAllowed"


def test_vm_delete_keeps_nic_unless_delete_option(tutorial: SimHandle) -> None:
    c = tutorial.clients()
    c.compute.virtual_machines.begin_delete(RG, "myVM3").result()
    nic = c.network.network_interfaces.get(RG, "myNic3")
    assert nic.virtual_machine is None
    avset = c.compute.availability_sets.get(RG, "myAvailabilitySet")
    assert len(avset.virtual_machines) == 2
    nic_id = make_nic(tutorial, "ephemeralNic")
    body = vm_body(nic_id)
    body["properties"]["networkProfile"]["networkInterfaces"][0]["properties"] = {"deleteOption": "Delete"}
    resp = tutorial.arm("PUT", vm_path(tutorial, "ephemeralVM"), body)
    wait_op(tutorial, resp.headers["Azure-AsyncOperation"])
    c.compute.virtual_machines.begin_delete(RG, "ephemeralVM").result()
    assert tutorial.arm("GET", nic_id, api_version="2024-07-01").status_code == 404
    # the NIC of a deleted VM can serve a new one (in the same availability set: the NIC is in a Basic LB's pool)
    avset = f"/subscriptions/{tutorial.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Compute/" \
            "availabilitySets/myAvailabilitySet"
    resp = tutorial.arm("PUT", vm_path(tutorial, "newVM3"), vm_body(net_id(tutorial, "networkInterfaces/myNic3"),
                                                                     availabilitySet={"id": avset}))
    assert resp.status_code == 201


def test_availability_set_crud(armsim: SimHandle) -> None:
    c = armsim.clients()
    armsim.sim.call(lambda: armsim.engine.ensure_resource_group("rg1", "westus"))
    rg_path = f"/subscriptions/{armsim.subscription_id}/resourceGroups/rg1"
    path = f"{rg_path}/providers/Microsoft.Compute/availabilitySets/as1"
    resp = armsim.arm("PUT", path, {"location": "westus", "sku": {"name": "Aligned"},
                                    "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 5}})
    assert resp.status_code == 200
    assert resp.json()["properties"]["virtualMachines"] == []
    bad = armsim.arm("PUT", path, {"location": "westus", "properties": {"platformFaultDomainCount": 7}})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidParameter"
    assert [a.name for a in c.compute.availability_sets.list("rg1")] == ["as1"]
    c.compute.availability_sets.delete("rg1", "as1")
    assert list(c.compute.availability_sets.list("rg1")) == []


def test_vm_get_has_the_published_shape(tutorial: SimHandle) -> None:
    """A VM written like the one in VirtualMachine_Get.json reads back with the same keys."""
    ref = ref_body("compute_2024-07-01_VirtualMachine_Get.json")
    nic = make_nic(tutorial, "refNic")
    tutorial.sim.call(lambda: tutorial.engine.internal_put(
        f"/subscriptions/{tutorial.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Compute/availabilitySets/"
        "my-AvailabilitySet", {"location": "westus", "sku": {"name": "Aligned"},
                               "properties": {"platformFaultDomainCount": 2, "platformUpdateDomainCount": 5}}))
    body = copy.deepcopy(ref)
    for k in ("id", "name", "type", "etag", "resources", "managedBy"):
        body.pop(k)
    p = body["properties"]
    for k in ("vmId", "provisioningState", "timeCreated"):
        p.pop(k)
    p["availabilitySet"]["id"] = p["availabilitySet"]["id"].replace("{subscription-id}", tutorial.subscription_id)\
        .replace("myResourceGroup", RG)
    p["networkProfile"]["networkInterfaces"][0]["id"] = nic
    for d in [p["storageProfile"]["osDisk"], *p["storageProfile"]["dataDisks"]]:
        d["managedDisk"].pop("id")
    resp = tutorial.arm("PUT", vm_path(tutorial, "myVM"), body)
    assert resp.status_code == 201, resp.text
    wait_op(tutorial, resp.headers["Azure-AsyncOperation"])
    got = tutorial.arm("GET", vm_path(tutorial, "myVM") + "?$expand=userData").json()
    assert missing_keys(ref, got, ignore=frozenset({"resources", "managedBy"})) == []
    assert got["properties"]["userData"] == ref["properties"]["userData"]
    assert "userData" not in tutorial.arm("GET", vm_path(tutorial, "myVM")).json()["properties"]


@pytest.mark.parametrize("method", ["GET"])
def test_compute_reads_carry_rate_limit_headers(tutorial: SimHandle, method: str) -> None:
    resp = tutorial.arm(method, vm_path(tutorial, "myVM1"))
    assert resp.headers["x-ms-ratelimit-remaining-resource"].startswith("Microsoft.Compute/LowCostGet3Min;")
    assert ",Microsoft.Compute/LowCostGet30Min;" in resp.headers["x-ms-ratelimit-remaining-resource"]
