"""Seed 001: removing an inbound NAT pool from a scale set's load balancer only works in Azure's order.

Wrong order (delete the NAT pool first) is refused with ``LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet``.
Right order: update the scale-set model (``az vmss update --remove ...loadBalancerInboundNatPools``), apply it to
every instance (``az vmss update-instances --instance-ids *``), delete the NAT pool, delete the frontend IP. Every
step is done with the real SDKs, as the az CLI does it (GET, modify, PUT).
"""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError
from azure.mgmt.compute.models import VirtualMachineScaleSetVMInstanceRequiredIDs

from tests.conftest import SimHandle

RG = "MyResourceGroup"
LB = "MyLoadBalancer"
VMSS = "MyVMSS"


def _nat_rules(c: Any) -> dict[str, int]:
    lb = c.network.load_balancers.get(RG, LB)
    return {r.name: r.frontend_port for r in lb.inbound_nat_rules or []}


def _instance_nic_rules(c: Any) -> dict[str, list[str]]:
    """Instance id -> names of the NAT rules its NIC's ip configuration references."""
    out: dict[str, list[str]] = {}
    for nic in c.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(RG, VMSS):
        inst = nic.virtual_machine.id.rstrip("/").split("/")[-1]
        ipc = nic.ip_configurations[0]
        out[inst] = sorted(r.id.split("/")[-1] for r in ipc.load_balancer_inbound_nat_rules or [])
        assert [p.id.split("/")[-1] for p in ipc.load_balancer_backend_address_pools] == ["MyBackendPool"]
    return out


def _delete_nat_pool(c: Any) -> None:
    """az network lb inbound-nat-pool delete: GET the load balancer, drop the pool, PUT it back."""
    lb = c.network.load_balancers.get(RG, LB)
    lb.inbound_nat_pools = [p for p in lb.inbound_nat_pools if p.name != "MyNatPool"]
    c.network.load_balancers.begin_create_or_update(RG, LB, lb).result()


def _latest(c: Any) -> dict[str, bool]:
    return {vm.instance_id: vm.latest_model_applied for vm in c.compute.virtual_machine_scale_set_vms.list(RG, VMSS)}


def test_natpool_removal_wrong_order_then_right_order(natpool: SimHandle) -> None:
    c = natpool.clients()
    assert _nat_rules(c) == {"MyNatPool.0": 50000, "MyNatPool.1": 50001, "MyNatPool.2": 50002}
    assert _instance_nic_rules(c) == {"0": ["MyNatPool.0"], "1": ["MyNatPool.1"], "2": ["MyNatPool.2"]}
    assert _latest(c) == {"0": True, "1": True, "2": True}

    # wrong order: the NAT pool first
    with pytest.raises(HttpResponseError) as err:
        _delete_nat_pool(c)
    assert err.value.status_code == 400
    assert err.value.error.code == "LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet"
    assert "MyVMSS" in err.value.error.message

    # 1. az vmss update --remove virtualMachineProfile.networkProfile...ipConfigurations[0].loadBalancerInboundNatPools
    vmss = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    ipc = vmss.virtual_machine_profile.network_profile.network_interface_configurations[0].ip_configurations[0]
    ipc.load_balancer_inbound_nat_pools = None
    updated = c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    model_ipc = updated.virtual_machine_profile.network_profile.network_interface_configurations[0].ip_configurations[0]
    assert not model_ipc.load_balancer_inbound_nat_pools
    # the model changed, the instances did not (Manual upgrade policy)
    assert _latest(c) == {"0": False, "1": False, "2": False}
    assert _instance_nic_rules(c) == {"0": ["MyNatPool.0"], "1": ["MyNatPool.1"], "2": ["MyNatPool.2"]}
    assert set(_nat_rules(c)) == {"MyNatPool.0", "MyNatPool.1", "MyNatPool.2"}
    vm0 = c.compute.virtual_machine_scale_set_vms.get(RG, VMSS, "0")
    applied = vm0.network_profile_configuration.network_interface_configurations[0].ip_configurations[0]
    assert [p.id.split("/")[-1] for p in applied.load_balancer_inbound_nat_pools] == ["MyNatPool"]
    with pytest.raises(HttpResponseError) as err:
        _delete_nat_pool(c)
    assert err.value.error.code == "LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet"

    # 2. az vmss update-instances --instance-ids *  (the CLI sends the ids it lists)
    ids = sorted(_latest(c))
    everyone = VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=ids)
    c.compute.virtual_machine_scale_sets.begin_update_instances(RG, VMSS, everyone).result()
    assert _latest(c) == {"0": True, "1": True, "2": True}
    assert _instance_nic_rules(c) == {"0": [], "1": [], "2": []}
    assert _nat_rules(c) == {}

    # 3. az network lb inbound-nat-pool delete
    _delete_nat_pool(c)
    lb = c.network.load_balancers.get(RG, LB)
    assert not lb.inbound_nat_pools

    # 4. az network lb frontend-ip delete
    lb.frontend_ip_configurations = [f for f in lb.frontend_ip_configurations if f.name != "MyFrontendIp"]
    c.network.load_balancers.begin_create_or_update(RG, LB, lb).result()
    lb = c.network.load_balancers.get(RG, LB)
    assert [f.name for f in lb.frontend_ip_configurations] == ["LoadBalancerFrontEnd"]
    assert [r.name for r in lb.load_balancing_rules] == ["MyLoadBalancerRule"]
    pool = lb.backend_address_pools[0]
    assert len(pool.backend_ip_configurations or []) == 3

    # everything else still works: scale out puts a fourth instance in the pool, without a NAT rule
    vmss = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    vmss.sku.capacity = 4
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    assert _instance_nic_rules(c) == {"0": [], "1": [], "2": [], "3": []}
    assert _latest(c) == {"0": True, "1": True, "2": True, "3": True}
    assert len(c.network.load_balancers.get(RG, LB).backend_address_pools[0].backend_ip_configurations) == 4


def test_update_instances_accepts_star(natpool: SimHandle) -> None:
    """``az vmss update-instances --instance-ids *`` may reach the API as ``["*"]``: it means every instance."""
    c = natpool.clients()
    vmss = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    ipc = vmss.virtual_machine_profile.network_profile.network_interface_configurations[0].ip_configurations[0]
    ipc.load_balancer_inbound_nat_pools = None
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    star = VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["*"])
    c.compute.virtual_machine_scale_sets.begin_update_instances(RG, VMSS, star).result()
    assert _latest(c) == {"0": True, "1": True, "2": True}
    assert _nat_rules(c) == {}
