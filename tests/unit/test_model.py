"""Views over raw ARM JSON: Azure's own examples parse, missing optional fields are tolerated, raw is kept."""

from __future__ import annotations

from typing import Any

from poolkeeper.model import LoadBalancer, Nic, ScaleSet, ScaleSetInstance, Snapshot, Vm
from tests.reference import load_reference

from . import builders as B


def _example(name: str) -> Any:
    return load_reference(name)


def test_reference_load_balancer_get() -> None:
    body = _example("network_2024-07-01_LoadBalancerGet.json")["responses"]["200"]["body"]
    lb = LoadBalancer.from_arm(body)
    assert lb.name == "lb" and lb.sku == "Basic" and lb.is_basic and lb.etag == 'W/"00000000-0000-0000-0000-00000000"'
    assert [f.name for f in lb.frontends] == ["fe-lb"]
    assert lb.frontends[0].subnet_id is not None and lb.frontends[0].public_ip_id is None
    assert lb.pool("BE-LB") is not None and lb.pool("be-lb").backend_ip_configuration_ids == ()
    rule = lb.nat_rule("in-nat-rule")
    assert rule is not None and rule.frontend_port == 3389 and rule.protocol == "Tcp" and not rule.is_v2
    assert list(rule.frontend_ports()) == [3389]
    lbr = lb.load_balancing_rules[0]
    assert lbr.frontend_port == 80 and lbr.backend_address_pool_ids == (lb.backend_pools[0].id,)
    assert lbr.probe_id == lb.probes[0].id and lbr.disable_outbound_snat is False
    assert lb.probes[0].port == 80 and lb.inbound_nat_pools == () and lb.raw is body


def test_reference_nat_pool_and_rule() -> None:
    body = _example("network_2024-07-01_LoadBalancerCreateWithInboundNatPool.json")["responses"]["200"]["body"]
    lb = LoadBalancer.from_arm(body)
    pool = lb.inbound_nat_pools[0]
    assert (pool.frontend_port_range_start, pool.frontend_port_range_end, pool.backend_port) == (8080, 8085, 8888)
    assert list(pool.frontend_ports()) == list(range(8080, 8086))


def test_reference_nic_get() -> None:
    body = _example("network_2024-07-01_NetworkInterfaceGet.json")["responses"]["200"]["body"]
    nic = Nic.from_arm(body)
    assert nic.vm_id and nic.vm_id.endswith("/virtualMachines/vm1")
    assert [ic.name for ic in nic.ip_configurations] == ["ipconfig1", "ipconfig2"]
    primary = nic.primary_ip_configuration
    assert primary is not None and primary.name == "ipconfig1" and primary.public_ip_id is not None
    assert primary.backend_pool_ids == () and primary.nat_rule_ids == ()
    assert not nic.is_scale_set_instance_nic and nic.tags == {}


def test_reference_vmss_nics() -> None:
    body = _example("network_2024-07-01_VmssNetworkInterfaceList.json")["responses"]["200"]["body"]
    snap = Snapshot.from_arm(nics=body["value"])
    assert len(snap.nics) == 2
    nic = next(iter(snap.nics.values()))
    assert nic.is_scale_set_instance_nic
    ic = nic.ip_configurations[0]
    assert ic.nat_rule_ids[0].endswith("natPool1.0")
    assert snap.nic_for_ip_configuration(ic.id.upper()) is nic
    assert len(snap.pool_members(ic.backend_pool_ids[0])) == 2


def test_reference_vm_and_scale_set() -> None:
    body = _example("compute_2024-07-01_VirtualMachine_Get.json")["responses"]["200"]["body"]
    vm = Vm.from_arm(body)
    assert vm.name == "myVM" and vm.resource_group == "myResourceGroup" and vm.tags == {"myTag1": "tagValue1"}
    assert vm.availability_set_id and vm.availability_set_id.endswith("my-AvailabilitySet")
    assert vm.scale_set_id is None and len(vm.nic_ids) == 1 and vm.provisioning_state == "Succeeded"
    ss_body = _example("compute_2024-07-01_VirtualMachineScaleSet_Create_WithAzureLoadBalancer.json")
    ss = ScaleSet.from_arm(ss_body["responses"]["200"]["body"])
    assert ss.orchestration_mode == "Uniform" and ss.is_uniform and ss.upgrade_mode == "Manual" and ss.capacity == 3
    nc = ss.primary_nic_configuration
    assert nc is not None and nc.primary_ip_configuration is not None
    assert nc.primary_ip_configuration.nat_pool_ids[0].endswith("/inboundNatPools/lbNatPool")
    assert nc.primary_ip_configuration.backend_pool_ids[0].endswith("/backendAddressPools/lbBackendPool")
    inst = ScaleSetInstance.from_arm(
        _example("compute_2024-07-01_VirtualMachineScaleSetVM_Get_WithUserData.json")["responses"]["200"]["body"])
    assert inst.instance_id == "0" and inst.latest_model_applied is True


def test_minimal_resources_tolerated() -> None:
    lb_id = B.LB_ID
    lb = LoadBalancer.from_arm({"id": lb_id})
    assert lb.name == "myLoadBalancer" and lb.sku == "Basic" and lb.backend_pools == () and lb.frontends == ()
    nic = Nic.from_arm({"id": B.net_id("networkInterfaces", "n")})
    assert nic.ip_configurations == () and nic.primary_ip_configuration is None and nic.vm_id is None
    vm = Vm.from_arm({"id": B.compute_id("virtualMachines", "v")})
    assert vm.nic_ids == () and vm.primary_nic_id is None and vm.availability_set_id is None
    ss = ScaleSet.from_arm({"id": B.compute_id("virtualMachineScaleSets", "s")})
    assert ss.is_uniform and ss.upgrade_mode == "Manual" and ss.primary_nic_configuration is None
    inst = ScaleSetInstance.from_arm({"id": ss.id + "/virtualMachines/7"})
    assert inst.instance_id == "7" and inst.latest_model_applied is None


def test_vm_primary_nic_first_and_flexible_scale_set() -> None:
    raw = B.vm("myVM1", nics=("a", "b"), scale_set=B.compute_id("virtualMachineScaleSets", "flex"), avset=None)
    raw["properties"]["networkProfile"]["networkInterfaces"].reverse()
    vm = Vm.from_arm(raw)
    assert vm.nic_ids[0].endswith("/a") and vm.scale_set_id and vm.scale_set_id.endswith("/flex")


def test_snapshot_lookups_are_case_insensitive() -> None:
    snap = B.snapshot(**B.tutorial(joined=True))
    assert snap.vm(B.compute_id("virtualMachines", "MYVM1").lower()) is not None
    assert snap.load_balancer(B.LB_ID.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/")) is not None
    assert snap.lb_of(B.POOL_ID) is snap.load_balancer(B.LB_ID)
    assert snap.lb_of(B.net_id("networkInterfaces", "x")) is None
    vm = snap.vm(B.compute_id("virtualMachines", "myVM2"))
    assert vm is not None and snap.primary_nic(vm) is snap.nic(B.net_id("networkInterfaces", "myNic2"))
    assert {n.name for n, _ in snap.pool_members(B.POOL_ID.lower())} == {"myNic1", "myNic2", "myNic3"}
    ip = snap.ip_configuration(B.ipconfig_id("myNic3"))
    assert ip is not None and ip.in_pool(B.POOL_ID.upper())


def test_snapshot_round_trip_and_scale_set_instances() -> None:
    ss = B.scale_set()
    kwargs = {**B.tutorial(), "scale_sets": [ss],
              "scale_set_instances": {ss["id"].lower(): [B.instance(ss["id"], "1"), B.instance(ss["id"], "0")]}}
    snap = B.snapshot(**kwargs)
    view = snap.scale_set(ss["id"])
    assert view is not None and [i.instance_id for i in view.instances] == ["0", "1"]
    again = Snapshot.from_arm(**snap.to_arm())
    assert again == snap
    assert snap.scale_sets_using_pool(B.POOL_ID) == []
