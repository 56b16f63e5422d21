"""Scale sets through the real azure-mgmt-compute / azure-mgmt-network clients: model vs instances, capacity, upgrade
policies, instance NICs and NAT rules, Flexible orchestration, and Azure's refusals."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable
from typing import Any

from azure.mgmt.compute.models import VirtualMachineScaleSetVMInstanceRequiredIDs

from tests.armsim.test_compute_vm import REF, missing_keys, ref_body, wait_op
from tests.conftest import SimHandle

RG = "MyResourceGroup"
VMSS = "MyVMSS"
LB = "MyLoadBalancer"


def base(sim: SimHandle) -> str:
    return f"/subscriptions/{sim.subscription_id}/resourceGroups/{RG}/providers"


def vmss_path(sim: SimHandle, name: str = VMSS) -> str:
    return f"{base(sim)}/Microsoft.Compute/virtualMachineScaleSets/{name}"


def lb_id(sim: SimHandle, name: str = LB) -> str:
    return f"{base(sim)}/Microsoft.Network/loadBalancers/{name}"


def internal_put(sim: SimHandle, rid: str, body: dict[str, Any]) -> None:
    sim.sim.call(lambda: sim.engine.internal_put(rid, body))


def public_lb(sim: SimHandle, name: str, pip: str, sku: str, pools: list[str]) -> str:
    """Seed load balancer ``name`` (``sku``): frontend ``fe`` on its own public IP ``pip`` (Standard: Static, Basic:
    Dynamic) and backend ``pools``; its id."""
    pip_id = f"{base(sim)}/Microsoft.Network/publicIPAddresses/{pip}"
    internal_put(sim, pip_id, {"location": "westus", "sku": {"name": sku}, "properties": {
        "publicIPAllocationMethod": "Static" if sku == "Standard" else "Dynamic"}})
    internal_put(sim, lb_id(sim, name), {"location": "westus", "sku": {"name": sku}, "properties": {
        "frontendIPConfigurations": [{"name": "fe", "properties": {"publicIPAddress": {"id": pip_id}}}],
        "backendAddressPools": [{"name": pool} for pool in pools]}})
    return lb_id(sim, name)


def eventually(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, "condition not reached in time"
        time.sleep(0.05)


def nat_rules(c: Any) -> set[str]:
    return {r.name for r in c.network.load_balancers.get(RG, LB).inbound_nat_rules or []}


def instance_ids(c: Any) -> list[str]:
    return [vm.instance_id for vm in c.compute.virtual_machine_scale_set_vms.list(RG, VMSS)]


def set_capacity(c: Any, n: int) -> None:
    vmss = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    vmss.sku.capacity = n
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()


def model_put(sim: SimHandle, change: Callable[[dict[str, Any]], None], name: str = VMSS) -> Any:
    body = sim.arm("GET", vmss_path(sim, name)).json()
    change(body)
    return sim.arm("PUT", vmss_path(sim, name), body)


def ipconfig(body: dict[str, Any]) -> dict[str, Any]:
    cfg = body["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]
    return cfg["properties"]["ipConfigurations"][0]["properties"]


# ------------------------------------------------------------------------------------------------ published shapes
def test_instances_and_instance_nics_have_the_published_shape(natpool: SimHandle) -> None:
    vm = natpool.arm("GET", vmss_path(natpool) + "/virtualMachines/0?$expand=UserData").json()
    ref = ref_body("compute_2024-07-01_VirtualMachineScaleSetVM_Get_WithUserData.json")
    # keys that only appear when the model has them (the seed's model has no tags, data disks, boot diagnostics,
    # user data, and is Linux) or that armsim does not simulate (extensions: "resources")
    optional = frozenset({"resources", "userData", "windowsConfiguration", "dataDisks", "tags", "diagnosticsProfile"})
    assert missing_keys(ref, vm, ignore=optional) == []
    assert vm["name"] == "MyVMSS_0" and vm["type"] == "Microsoft.Compute/virtualMachines" and vm["etag"] == '"1"'
    listing = natpool.arm("GET", vmss_path(natpool) + "/virtualMachines").json()
    ref_list = ref_body("compute_2024-07-01_VirtualMachineScaleSetVM_List_MinimumSet_Gen.json")
    assert missing_keys(ref_list, listing) == []
    assert [v["instanceId"] for v in listing["value"]] == ["0", "1", "2"]
    nics = natpool.arm("GET", vmss_path(natpool) + "/networkInterfaces", api_version="2018-10-01").json()
    ref_nics = ref_body("network_2024-07-01_VmssNetworkInterfaceList.json")
    assert missing_keys(ref_nics, nics, ignore=frozenset({"publicIPAddress", "networkSecurityGroup"})) == []
    assert [n["properties"]["ipConfigurations"][0]["properties"]["loadBalancerInboundNatRules"][0]["id"].split("/")[-1]
            for n in nics["value"]] == ["MyNatPool.0", "MyNatPool.1", "MyNatPool.2"]
    c = natpool.clients()
    one = c.network.network_interfaces.get_virtual_machine_scale_set_network_interface(RG, VMSS, "1", "myvmssNic")
    assert one.virtual_machine.id.endswith("/virtualMachineScaleSets/MyVMSS/virtualMachines/1")
    per_vm = list(c.network.network_interfaces.list_virtual_machine_scale_set_vm_network_interfaces(RG, VMSS, "2"))
    assert [n.name for n in per_vm] == ["myvmssNic"]
    ipcs = list(c.network.network_interfaces.list_virtual_machine_scale_set_ip_configurations(
        RG, VMSS, "2", "myvmssNic"))
    assert [i.name for i in ipcs] == ["myvmssIPConfig"]
    # NIC lists of the resource group do not include scale-set instance NICs (as in Azure)
    assert list(c.network.network_interfaces.list(RG)) == []
    rule = c.network.inbound_nat_rules.get(RG, LB, "MyNatPool.1")
    assert rule.backend_ip_configuration.id.lower().endswith(
        "/virtualmachinescalesets/myvmss/virtualmachines/1/networkinterfaces/myvmssnic/ipconfigurations/myvmssipconfig")


def test_create_with_azure_load_balancer_reference_request(natpool: SimHandle) -> None:
    """The published Create_WithAzureLoadBalancer request (ids adapted) is accepted and answered in its shape."""
    example = json.loads((REF / "compute_2024-07-01_VirtualMachineScaleSet_Create_WithAzureLoadBalancer.json")
                         .read_text())
    lb = lb_id(natpool)
    lb_body = natpool.arm("GET", lb).json()
    lb_body["properties"]["inboundNatPools"].append({"name": "lbNatPool", "properties": {
        "frontendIPConfiguration": {"id": f"{lb}/frontendIPConfigurations/MyFrontendIp"}, "protocol": "Tcp",
        "frontendPortRangeStart": 51000, "frontendPortRangeEnd": 51099, "backendPort": 3389}})
    internal_put(natpool, lb, lb_body)
    text = json.dumps(example["parameters"]["parameters"])
    text = (text.replace("{subscription-id}", natpool.subscription_id).replace("myResourceGroup", RG)
            .replace("{existing-load-balancer-name}", LB).replace("{existing-nat-pool-name}", "lbNatPool")
            .replace("{existing-backend-address-pool-name}", "MyBackendPool")
            .replace("{existing-virtual-network-name}", "MyVnet").replace("{existing-subnet-name}", "MySubnet")
            .replace("{vmss-name}", "refvmss").replace("{your-username}", "azureuser")
            .replace("{your-password}", "not-a-secret"))
    resp = natpool.arm("PUT", vmss_path(natpool, "refvmss"), json.loads(text))
    assert resp.status_code == 201, resp.text
    assert missing_keys(example["responses"]["201"]["body"], resp.json()) == []
    assert resp.json()["properties"]["provisioningState"] == "Creating"
    assert "adminPassword" not in json.dumps(resp.json())
    assert resp.headers["ETag"] == '"1"'
    assert "Microsoft.Compute/PutVMScaleSet3Min;" in resp.headers["x-ms-ratelimit-remaining-resource"]
    assert wait_op(natpool, resp.headers["Azure-AsyncOperation"])["status"] == "Succeeded"
    c = natpool.clients()
    assert [v.instance_id for v in c.compute.virtual_machine_scale_set_vms.list(RG, "refvmss")] == ["0", "1", "2"]
    assert {"lbNatPool.0", "lbNatPool.1", "lbNatPool.2"} <= nat_rules(c)
    # UpdateInstances example: 202 + Location
    upd = natpool.arm("POST", vmss_path(natpool, "refvmss") + "/manualupgrade", {"instanceIds": ["0"]})
    assert upd.status_code == 202
    assert "Location" in upd.headers


# ------------------------------------------------------------------------------------------------ capacity
def test_scale_out_and_in_materialise_instances_nics_and_nat_rules(natpool: SimHandle) -> None:
    c = natpool.clients()
    set_capacity(c, 5)
    assert instance_ids(c) == ["0", "1", "2", "3", "4"]
    assert nat_rules(c) == {f"MyNatPool.{i}" for i in range(5)}
    assert len(list(c.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(RG, VMSS))) == 5
    pool = c.network.load_balancers.get(RG, LB).backend_address_pools[0]
    assert len(pool.backend_ip_configurations) == 5
    set_capacity(c, 2)  # scale-in removes the highest ids
    assert instance_ids(c) == ["0", "1"]
    assert nat_rules(c) == {"MyNatPool.0", "MyNatPool.1"}
    assert len(list(c.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(RG, VMSS))) == 2
    set_capacity(c, 3)  # ids keep increasing
    assert instance_ids(c) == ["0", "1", "5"]
    assert nat_rules(c) == {"MyNatPool.0", "MyNatPool.1", "MyNatPool.5"}
    # deleting one instance lowers the capacity
    c.compute.virtual_machine_scale_set_vms.begin_delete(RG, VMSS, "1").result()
    assert instance_ids(c) == ["0", "5"]
    assert c.compute.virtual_machine_scale_sets.get(RG, VMSS).sku.capacity == 2
    assert nat_rules(c) == {"MyNatPool.0", "MyNatPool.5"}
    # POST .../delete with instance ids does the same
    c.compute.virtual_machine_scale_sets.begin_delete_instances(
        RG, VMSS, VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["5"])).result()
    assert instance_ids(c) == ["0"]
    assert c.compute.virtual_machine_scale_sets.get(RG, VMSS).sku.capacity == 1


def test_delete_scale_set_removes_instances_and_rules(natpool: SimHandle) -> None:
    c = natpool.clients()
    c.compute.virtual_machine_scale_sets.begin_delete(RG, VMSS).result()
    assert nat_rules(c) == set()
    assert natpool.arm("GET", vmss_path(natpool) + "/virtualMachines/0").status_code == 404
    lb = c.network.load_balancers.get(RG, LB)
    lb.inbound_nat_pools = []
    c.network.load_balancers.begin_create_or_update(RG, LB, lb).result()


def test_instance_view_power_and_protection(natpool: SimHandle) -> None:
    c = natpool.clients()
    view = c.compute.virtual_machine_scale_set_vms.get_instance_view(RG, VMSS, "0")
    assert any(s.code == "PowerState/running" for s in view.statuses)
    c.compute.virtual_machine_scale_set_vms.begin_power_off(RG, VMSS, "0").result()
    view = c.compute.virtual_machine_scale_set_vms.get_instance_view(RG, VMSS, "0")
    assert any(s.code == "PowerState/stopped" for s in view.statuses)
    c.compute.virtual_machine_scale_sets.begin_start(RG, VMSS).result()
    view = c.compute.virtual_machine_scale_set_vms.get_instance_view(RG, VMSS, "0")
    assert any(s.code == "PowerState/running" for s in view.statuses)
    summary = c.compute.virtual_machine_scale_sets.get_instance_view(RG, VMSS)
    assert summary.virtual_machine.statuses_summary[0].count == 3
    vm = c.compute.virtual_machine_scale_set_vms.get(RG, VMSS, "0")
    vm.protection_policy = {"protectFromScaleIn": True}
    updated = c.compute.virtual_machine_scale_set_vms.begin_update(RG, VMSS, "0", vm).result()
    assert updated.protection_policy.protect_from_scale_in is True
    assert updated.etag == '"2"'


# ------------------------------------------------------------------------------------------------ upgrade policies
def test_manual_policy_waits_for_manual_upgrade(natpool: SimHandle) -> None:
    c = natpool.clients()
    resp = model_put(natpool, lambda b: ipconfig(b).pop("loadBalancerInboundNatPools"))
    assert resp.status_code == 200
    assert resp.headers["ETag"] == '"2"'
    wait_op(natpool, resp.headers["Azure-AsyncOperation"])
    time.sleep(0.3)
    assert all(not vm.latest_model_applied for vm in c.compute.virtual_machine_scale_set_vms.list(RG, VMSS))
    c.compute.virtual_machine_scale_sets.begin_update_instances(
        RG, VMSS, VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["1"])).result()
    latest = {vm.instance_id: vm.latest_model_applied for vm in c.compute.virtual_machine_scale_set_vms.list(RG, VMSS)}
    assert latest == {"0": False, "1": True, "2": False}
    assert nat_rules(c) == {"MyNatPool.0", "MyNatPool.2"}
    bad = natpool.arm("POST", vmss_path(natpool) + "/manualupgrade", {"instanceIds": ["9"]})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "InvalidParameter"


def test_automatic_policy_applies_the_model_after_the_delay(natpool: SimHandle) -> None:
    natpool.control("POST", "config", {"durations": {"compute.vmss.automatic_upgrade_delay": 100.0}})  # 1 s here
    c = natpool.clients()

    def change(b: dict[str, Any]) -> None:
        ipconfig(b).pop("loadBalancerInboundNatPools")
        b["properties"]["upgradePolicy"] = {"mode": "Automatic"}

    resp = model_put(natpool, change)
    assert resp.status_code == 200
    assert all(not vm.latest_model_applied for vm in c.compute.virtual_machine_scale_set_vms.list(RG, VMSS))
    assert len(nat_rules(c)) == 3
    eventually(lambda: all(vm.latest_model_applied for vm in c.compute.virtual_machine_scale_set_vms.list(RG, VMSS)))
    assert nat_rules(c) == set()


def test_rolling_policy_upgrades_in_batches(natpool: SimHandle) -> None:
    natpool.control("POST", "config", {"durations": {"compute.vmss.automatic_upgrade_delay": 10.0,
                                                     "compute.vmss.upgrade": 20.0}})
    c = natpool.clients()

    def change(b: dict[str, Any]) -> None:
        ipconfig(b).pop("loadBalancerInboundNatPools")
        b["properties"]["upgradePolicy"] = {"mode": "Rolling", "rollingUpgradePolicy": {"maxBatchInstancePercent": 34}}

    assert model_put(natpool, change).status_code == 200
    seen: set[int] = set()

    def done() -> bool:
        n = sum(1 for vm in c.compute.virtual_machine_scale_set_vms.list(RG, VMSS) if vm.latest_model_applied)
        seen.add(n)
        return n == 3

    eventually(done)
    assert nat_rules(c) == set()
    assert c.compute.virtual_machine_scale_sets.get(RG, VMSS).upgrade_policy.rolling_upgrade_policy \
        .max_batch_instance_percent == 34


# ------------------------------------------------------------------------------------------------ refusals
def test_refusals(natpool: SimHandle) -> None:
    lb = lb_id(natpool)

    def refused(change: Callable[[dict[str, Any]], None], code: str, status: int = 400) -> None:
        resp = model_put(natpool, change)
        assert resp.status_code == status, resp.text
        assert resp.json()["error"]["code"] == code

    # references to pools / NAT pools that do not exist
    refused(lambda b: ipconfig(b)["loadBalancerBackendAddressPools"].append(
        {"id": f"{lb}/backendAddressPools/nope"}), "InvalidResourceReference")
    refused(lambda b: ipconfig(b)["loadBalancerInboundNatPools"].append(
        {"id": f"{lb}/inboundNatPools/nope"}), "InvalidResourceReference")
    # an unused probe as health probe
    lb_body = natpool.arm("GET", lb).json()
    lb_body["properties"]["probes"].append({"name": "idle", "properties": {"protocol": "Tcp", "port": 8080}})
    internal_put(natpool, lb, lb_body)
    refused(lambda b: b["properties"]["virtualMachineProfile"]["networkProfile"].update(
        healthProbe={"id": f"{lb}/probes/idle"}), "CannotUseInactiveHealthProbe")
    # two public load balancers
    other = public_lb(natpool, "OtherLB", "OtherIP", "Standard", ["pool"])
    refused(lambda b: ipconfig(b)["loadBalancerBackendAddressPools"].append(
        {"id": f"{other}/backendAddressPools/pool"}), "VMScaleSetCannotUseMultipleLoadBalancersOfSameType")
    # NAT pool range too small for the capacity
    refused(lambda b: b["sku"].update(capacity=121), "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts")
    # nothing of the above changed the scale set
    vmss = natpool.arm("GET", vmss_path(natpool)).json()
    assert vmss["etag"] == '"1"' and vmss["sku"]["capacity"] == 3


def test_second_scale_set_on_a_basic_load_balancer_is_refused(natpool: SimHandle) -> None:
    basic = public_lb(natpool, "BasicLB", "BasicIP", "Basic", ["a", "b"])
    template = natpool.arm("GET", vmss_path(natpool)).json()

    def second(name: str, pool: str) -> Any:
        body = copy.deepcopy(template)
        for k in ("id", "name", "etag"):
            body.pop(k)
        ip = ipconfig(body)
        ip.pop("loadBalancerInboundNatPools")
        ip["loadBalancerBackendAddressPools"] = [{"id": f"{basic}/backendAddressPools/{pool}"}]
        body["properties"]["virtualMachineProfile"]["networkProfile"].pop("healthProbe")
        body["sku"]["capacity"] = 1
        return natpool.arm("PUT", vmss_path(natpool, name), body)

    first = second("basicA", "a")
    assert first.status_code == 201, first.text
    wait_op(natpool, first.headers["Azure-AsyncOperation"])
    refused = second("basicB", "b")
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "VmIsNotInSameAvailabilitySetAsLb"


def test_busy_load_balancer_makes_scale_out_retryable(natpool: SimHandle) -> None:
    natpool.control("POST", "config", {"durations": {"network.put": 500.0}})
    c = natpool.clients()
    lb = c.network.load_balancers.get(RG, LB)
    c.network.load_balancers.begin_create_or_update(RG, LB, lb)  # still running for 5 s
    resp = model_put(natpool, lambda b: b["sku"].update(capacity=4))
    assert resp.status_code == 429
    assert resp.json()["error"]["code"] == "RetryableError"
    assert resp.json()["error"]["details"][0]["code"] == "ReferencedResourceNotProvisioned"


# ------------------------------------------------------------------------------------------------ Flexible
def test_flexible_members_are_ordinary_vms_with_their_own_nics(natpool: SimHandle) -> None:
    c = natpool.clients()
    template = natpool.arm("GET", vmss_path(natpool)).json()
    body = copy.deepcopy(template)
    for k in ("id", "name", "etag"):
        body.pop(k)
    body["properties"] = {k: v for k, v in body["properties"].items()
                          if k in ("virtualMachineProfile", "upgradePolicy")}
    body["properties"]["orchestrationMode"] = "Flexible"
    ipconfig(body).pop("loadBalancerInboundNatPools")
    body["properties"]["virtualMachineProfile"]["networkProfile"].pop("healthProbe")
    body["sku"]["capacity"] = 2
    resp = natpool.arm("PUT", vmss_path(natpool, "flex"), body)
    assert resp.status_code == 201, resp.text
    wait_op(natpool, resp.headers["Azure-AsyncOperation"])
    vms = [vm for vm in c.compute.virtual_machines.list(RG) if vm.virtual_machine_scale_set]
    assert len(vms) == 2
    assert all(vm.virtual_machine_scale_set.id.lower().endswith("/virtualmachinescalesets/flex") for vm in vms)
    nics = list(c.network.network_interfaces.list(RG))
    assert len(nics) == 2
    assert all(n.virtual_machine is not None for n in nics)
    assert all(n.ip_configurations[0].load_balancer_backend_address_pools[0].id.endswith("/MyBackendPool")
               for n in nics)
    # the scale set's VM list names its members (instance id = VM name), as for Flexible orchestration in Azure
    assert sorted(i.instance_id for i in c.compute.virtual_machine_scale_set_vms.list(RG, "flex")) == sorted(
        vm.name for vm in vms)
    flex = c.compute.virtual_machine_scale_sets.get(RG, "flex")
    flex.sku.capacity = 1
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, "flex", flex).result()
    assert len([vm for vm in c.compute.virtual_machines.list(RG) if vm.virtual_machine_scale_set]) == 1
    assert len(list(c.network.network_interfaces.list(RG))) == 1
    nat = model_put(natpool, lambda b: ipconfig(b).update(
        loadBalancerInboundNatPools=[{"id": f"{lb_id(natpool)}/inboundNatPools/MyNatPool"}]), name="flex")
    assert nat.status_code == 400
    c.compute.virtual_machine_scale_sets.begin_delete(RG, "flex").result()
    assert [vm for vm in c.compute.virtual_machines.list(RG) if vm.virtual_machine_scale_set] == []
    assert list(c.network.network_interfaces.list(RG)) == []


def _flexible_from_seed(c: Any, *, pool_id: str | None, capacity: int) -> Any:
    """A Flexible scale set model (SDK objects) from the seed's Uniform one: no NAT pool, no health probe, the network
    profile at ``networkApiVersion`` 2020-11-01, in ``pool_id`` or in no pool."""
    from azure.mgmt.compute.models import Sku, VirtualMachineScaleSet

    uniform = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    profile = uniform.virtual_machine_profile
    profile.network_profile.health_probe = None
    profile.network_profile.network_api_version = "2020-11-01"
    ipc = profile.network_profile.network_interface_configurations[0].ip_configurations[0]
    ipc.load_balancer_inbound_nat_pools = None
    ipc.load_balancer_backend_address_pools = [{"id": pool_id}] if pool_id else None
    return VirtualMachineScaleSet(location=uniform.location, sku=Sku(name=uniform.sku.name, capacity=capacity),
                                  orchestration_mode="Flexible", platform_fault_domain_count=1,
                                  virtual_machine_profile=profile)


def _flex_members(c: Any) -> dict[str, Any]:
    """VM name -> its (first) NIC ip configuration, for the members of scale set ``flex``."""
    out = {}
    for vm in c.compute.virtual_machines.list(RG):
        if vm.virtual_machine_scale_set and vm.virtual_machine_scale_set.id.lower().endswith("/flex"):
            nic = c.network.network_interfaces.get(RG, vm.network_profile.network_interfaces[0].id.split("/")[-1])
            out[vm.name] = nic.ip_configurations[0]
    return out


def test_flexible_instance_list_and_members_created_wired_from_the_model(natpool: SimHandle) -> None:
    """Issue 13 ("Flexible scale sets arrive wired"): once the pool is in a Flexible model, new members' NICs are
    created in it — no NIC write per member — while existing members keep their NICs as they are (Flexible has no
    model upgrade). The VMSS VM list (``az vmss list-instances``) lists the members by name."""
    c = natpool.clients()
    pool_id = f"{lb_id(natpool)}/backendAddressPools/MyBackendPool"
    c.compute.virtual_machine_scale_sets.begin_create_or_update(
        RG, "flex", _flexible_from_seed(c, pool_id=None, capacity=1)).result()
    flex = c.compute.virtual_machine_scale_sets.get(RG, "flex")
    assert flex.virtual_machine_profile.network_profile.network_api_version == "2020-11-01"
    (first,) = _flex_members(c)
    listed = list(c.compute.virtual_machine_scale_set_vms.list(RG, "flex"))
    assert [(i.name, i.instance_id) for i in listed] == [(first, first)]
    assert c.compute.virtual_machine_scale_set_vms.get(RG, "flex", first).instance_id == first
    assert not _flex_members(c)[first].load_balancer_backend_address_pools

    # put the pool in the model and scale out: the new member arrives wired, the first one is left alone
    flex.virtual_machine_profile.network_profile.network_interface_configurations[0].ip_configurations[0] \
        .load_balancer_backend_address_pools = [{"id": pool_id}]
    flex.sku.capacity = 3
    natpool.reset_log()
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, "flex", flex).result()
    nic_writes = [e for e in natpool.requests_log() if e["method"] in ("PUT", "PATCH")
                  and "/networkinterfaces/" in e["path"].lower()]
    assert nic_writes == [], "no client NIC write was needed"
    members = _flex_members(c)
    assert len(members) == 3
    wired = {name for name, ipc in members.items()
             if [p.id.lower() for p in ipc.load_balancer_backend_address_pools or []] == [pool_id.lower()]}
    assert wired == set(members) - {first}
    pool = c.network.load_balancer_backend_address_pools.get(RG, LB, "MyBackendPool")
    in_pool = {i.id.lower() for i in pool.backend_ip_configurations or []}
    assert {members[n].id.lower() for n in wired} <= in_pool and members[first].id.lower() not in in_pool
    assert sorted(i.instance_id for i in c.compute.virtual_machine_scale_set_vms.list(RG, "flex")) == sorted(members)
    # an existing member is wired per NIC: one NIC write, as for any VM
    nic_name = members[first].id.split("/networkInterfaces/")[1].split("/")[0]
    nic = c.network.network_interfaces.get(RG, nic_name)
    nic.ip_configurations[0].load_balancer_backend_address_pools = [{"id": pool_id}]
    c.network.network_interfaces.begin_create_or_update(RG, nic_name, nic).result()
    pool = c.network.load_balancer_backend_address_pools.get(RG, LB, "MyBackendPool")
    assert members[first].id.lower() in {i.id.lower() for i in pool.backend_ip_configurations or []}
    # a Uniform scale set's list is unchanged: its own instances, numbered
    assert instance_ids(c) == ["0", "1", "2"]
