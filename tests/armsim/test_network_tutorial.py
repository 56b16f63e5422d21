"""Seed 003's estate through the real SDK: the tutorial's load balancer, NICs and step 5 (out of the pool and back)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.conftest import SimHandle

RG = "myTutorial8"


@pytest.mark.parametrize(("scenario", "sku", "allocation"), [("tutorial", "Standard", "Static"),
                                                            ("tutorial-basic", "Basic", "Dynamic")])
def test_tutorial_load_balancer_shape(armsim_factory: Callable[..., SimHandle], scenario: str, sku: str,
                                      allocation: str) -> None:
    # "tutorial" is what az 2.91 builds (Basic public IPs retired 2025-09-30); "tutorial-basic" the tutorial era's
    net = armsim_factory(scenario=scenario).clients().network
    lb = net.load_balancers.get(RG, "myLoadBalancer")
    assert lb.sku.name == sku
    fe = lb.frontend_ip_configurations[0]
    assert fe.name == "myFrontEndPool" and fe.public_ip_address.id.endswith("/publicIPAddresses/myPublicIP")
    assert [r.id for r in fe.load_balancing_rules] == [lb.load_balancing_rules[0].id]
    pool = lb.backend_address_pools[0]
    assert pool.name == "myBackEndPool"
    assert [c.id.split("/")[-3] for c in pool.backend_ip_configurations] == ["myNic1", "myNic2", "myNic3"]
    assert lb.probes[0].protocol == "Tcp" and lb.probes[0].port == 80
    assert lb.probes[0].load_balancing_rules[0].id == lb.load_balancing_rules[0].id
    rule = lb.load_balancing_rules[0]
    assert (rule.name, rule.frontend_port, rule.backend_port) == ("myLoadBalancerRule", 80, 80)
    assert all(c.etag == lb.etag for c in [fe, pool, rule, lb.probes[0]])
    pip = net.public_ip_addresses.get(RG, "myPublicIP")
    assert pip.ip_address and pip.ip_configuration.id == fe.id
    assert (pip.sku.name, pip.public_ip_allocation_method) == (sku, allocation)


@pytest.mark.parametrize(("scenario", "ipconfig"), [("tutorial", "ipconfig1"), ("tutorial-basic", "ipConfig1")])
def test_tutorial_network_pieces(armsim_factory: Callable[..., SimHandle], scenario: str, ipconfig: str) -> None:
    # az 2.91's `nic create` names the ip configuration "ipconfig1"; the tutorial era's estate keeps the seed's name
    net = armsim_factory(scenario=scenario).clients().network
    nic = net.network_interfaces.get(RG, "myNic2")
    ipc = nic.ip_configurations[0]
    assert ipc.name == ipconfig and ipc.primary and ipc.private_ip_address == "10.0.0.5"
    assert nic.network_security_group.id.endswith("/myNetworkSecurityGroup")
    nsg = net.network_security_groups.get(RG, "myNetworkSecurityGroup")
    assert [r.name for r in nsg.default_security_rules] == [
        "AllowVnetInBound",
        "AllowAzureLoadBalancerInBound",
        "DenyAllInBound",
        "AllowVnetOutBound",
        "AllowInternetOutBound",
        "DenyAllOutBound",
    ]
    rule = nsg.security_rules[0]
    assert (rule.name, rule.priority, rule.protocol, rule.destination_port_range, rule.access, rule.direction) == (
        "myNetworkSecurityGroupRule",
        1001,
        "Tcp",
        "80",
        "Allow",
        "Inbound",
    )
    assert len(nsg.network_interfaces) == 3
    subnet = net.subnets.get(RG, "myVnet", "mySubnet")
    assert subnet.address_prefix == "10.0.0.0/24" and len(subnet.ip_configurations) == 3
    assert len(list(net.load_balancer_network_interfaces.list(RG, "myLoadBalancer"))) == 3
    assert net.network_interface_ip_configurations.get(RG, "myNic1", "IPCONFIG1").name == ipconfig  # any casing


def test_tutorial_step5_take_a_vm_out_of_the_pool_and_back(tutorial: SimHandle) -> None:
    """``az network nic ip-config address-pool remove/add`` is a GET + PUT of the NIC (read-modify-write)."""
    net = tutorial.clients().network
    nic = net.network_interfaces.get(RG, "myNic2")
    pool_id = nic.ip_configurations[0].load_balancer_backend_address_pools[0].id
    nic.ip_configurations[0].load_balancer_backend_address_pools = []
    net.network_interfaces.begin_create_or_update(RG, "myNic2", nic).result()
    pool = net.load_balancer_backend_address_pools.get(RG, "myLoadBalancer", "myBackEndPool")
    assert [c.id.split("/")[-3] for c in pool.backend_ip_configurations] == ["myNic1", "myNic3"]
    nic = net.network_interfaces.get(RG, "myNic2")
    nic.ip_configurations[0].load_balancer_backend_address_pools = [{"id": pool_id}]
    net.network_interfaces.begin_create_or_update(RG, "myNic2", nic).result()
    pool = net.load_balancer_backend_address_pools.get(RG, "myLoadBalancer", "myBackEndPool")
    assert len(pool.backend_ip_configurations) == 3
    assert net.network_interfaces.get(RG, "myNic2").ip_configurations[0].private_ip_address == "10.0.0.5"
