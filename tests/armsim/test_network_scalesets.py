"""Scale-set integration of the load balancer: NAT-pool-derived rules and what a scale set's references forbid.

Scale-set records are written straight into the store (the shape the compute provider stores), so these tests do not
depend on the compute provider.
"""

from __future__ import annotations

from typing import Any

import pytest

from armsim.errors import ArmError
from armsim.network.loadbalancer import set_natpool_rules
from armsim.store import Record
from tests.armsim.test_network_support import Estate, error_code, get, put


def _comp(e: Estate) -> str:
    return f"/subscriptions/{e.sub}/resourceGroups/rg1/providers/Microsoft.Compute"


def add_vmss(
    e: Estate, *, pools: list[str] = (), nat_pools: list[str] = (), probe: str | None = None, instances: int = 0
) -> str:
    """A scale-set model (and instances with their NIC records) referencing LB children, as compute stores them."""
    vmss = f"{_comp(e)}/virtualMachineScaleSets/vmss1"
    ipc = {
        "name": "ipc",
        "properties": {
            "subnet": {"id": e.subnet()},
            "loadBalancerBackendAddressPools": [{"id": p} for p in pools],
            "loadBalancerInboundNatPools": [{"id": p} for p in nat_pools],
        },
    }
    net_profile: dict[str, Any] = {
        "networkInterfaceConfigurations": [{"name": "nic", "properties": {"primary": True, "ipConfigurations": [ipc]}}]
    }
    if probe:
        net_profile["healthProbe"] = {"id": probe}
    body = {
        "id": vmss,
        "name": "vmss1",
        "type": "Microsoft.Compute/virtualMachineScaleSets",
        "location": "westus",
        "properties": {"virtualMachineProfile": {"networkProfile": net_profile}},
    }
    records = [Record(vmss, body["type"], body)]
    for i in range(instances):
        nic_id = f"{vmss}/virtualMachines/{i}/networkInterfaces/nic"
        nic = {
            "id": nic_id,
            "name": "nic",
            "properties": {
                "ipConfigurations": [
                    {
                        "name": "ipc",
                        "properties": {
                            "subnet": {"id": e.subnet()},
                            "privateIPAddress": f"10.0.0.{10 + i}",
                            "loadBalancerBackendAddressPools": [{"id": p} for p in pools],
                        },
                    }
                ]
            },
        }
        records.append(
            Record(nic_id, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces", nic)
        )

    def store() -> None:
        for r in records:
            e.h.engine.store.put(r)

    e.h.sim.call(store)
    return vmss


def test_set_natpool_rules_materialises_stable_ports(estate: Estate) -> None:
    h = estate.h
    estate.seed_lb(inboundNatPools=[estate.nat_pool("natPool1", 50000, 50002)])
    lb_id = estate.lb_path()
    vmss = f"{_comp(estate)}/virtualMachineScaleSets/vmss1"
    ipc = {str(i): f"{vmss}/virtualMachines/{i}/networkInterfaces/nic1/ipConfigurations/ip1" for i in range(4)}
    etag0 = get(h, lb_id)["etag"]
    h.sim.call(lambda: set_natpool_rules(h.engine, lb_id, "natPool1", {"0": ipc["0"], "1": ipc["1"]}))
    lb = get(h, lb_id)
    assert lb["etag"] != etag0
    rules = {r["name"]: r for r in lb["properties"]["inboundNatRules"]}
    assert {n: r["properties"]["frontendPort"] for n, r in rules.items()} == {"natPool1.0": 50000, "natPool1.1": 50001}
    assert rules["natPool1.1"]["properties"]["backendIPConfiguration"] == {"id": ipc["1"]}
    assert rules["natPool1.1"]["type"] == "Microsoft.Network/loadBalancers/inboundNatRules"
    assert len(lb["properties"]["frontendIPConfigurations"][0]["properties"]["inboundNatRules"]) == 2
    # instance 0 leaves, 2 and 3 join: 1 keeps its port, the lowest free ports go to the newcomers
    h.sim.call(lambda: set_natpool_rules(h.engine, lb_id, "natPool1", {"0": None, "2": ipc["2"], "3": ipc["3"]}))
    ports = {r.name: r.frontend_port for r in h.clients().network.inbound_nat_rules.list("rg1", "lb")}
    assert ports == {"natPool1.1": 50001, "natPool1.2": 50000, "natPool1.3": 50002}
    with pytest.raises(ArmError) as err:
        h.sim.call(lambda: set_natpool_rules(h.engine, lb_id, "natPool1", {"4": ipc["0"]}))
    assert err.value.code == "InboundNatPoolFrontendPortRangeSmallerThanRequestedPorts"
    # derived rules are not "NAT rules beside a NAT pool": an SDK read-modify-write of the LB is accepted
    net = h.clients().network
    model = net.load_balancers.get("rg1", "lb")
    model.tags = {"touched": "yes"}
    net.load_balancers.begin_create_or_update("rg1", "lb", model).result()
    assert len(net.load_balancers.get("rg1", "lb").inbound_nat_rules) == 3
    # and a raw echo of GET (derived rules included) changes nothing
    body = get(h, lb_id)
    assert put(h, lb_id, body).status_code == 200
    assert {r["name"] for r in get(h, lb_id)["properties"]["inboundNatRules"]} == set(ports)


def test_nat_pool_in_use_by_scale_set(estate: Estate) -> None:
    estate.seed_lb(inboundNatPools=[estate.nat_pool("np", 50000, 50010)])
    vmss = add_vmss(estate, nat_pools=[estate.lb_path(child="inboundNatPools/np")])
    body = get(estate.h, estate.lb_path())
    body["properties"]["inboundNatPools"] = []
    resp = put(estate.h, estate.lb_path(), body)
    assert resp.status_code == 400
    assert error_code(resp) == "LoadBalancerInboundNatPoolInUseByVirtualMachineScaleSet"
    assert resp.json()["error"]["message"] == (
        f"Cannot remove inbound nat pool np from load balancer since it is in use by virtual machine scale set {vmss}."
    )


def test_backend_pool_in_use_by_scale_set_and_back_references(estate: Estate) -> None:
    pool = estate.lb_path(child="backendAddressPools/pool")
    estate.lb()
    vmss = add_vmss(estate, pools=[pool], instances=2)
    got = estate.h.clients().network.load_balancer_backend_address_pools.get("rg1", "lb", "pool")
    assert [c.id for c in got.backend_ip_configurations] == [
        f"{vmss}/virtualMachines/{i}/networkInterfaces/nic/ipConfigurations/ipc" for i in range(2)
    ]
    resp = estate.h.arm("DELETE", pool)
    assert resp.status_code == 400
    assert error_code(resp) == "LoadBalancerBackendAddressPoolInUseByVirtualMachineScaleSet"
    assert "since it is in use by virtual machine scale set" in resp.json()["error"]["message"]
    resp = estate.h.arm("DELETE", estate.lb_path())
    assert resp.status_code == 400 and error_code(resp) == "LoadBalancerInUseByVirtualMachineScaleSet"


def test_health_probe_rules_of_a_scale_set(estate: Estate) -> None:
    probe = estate.lb_path(child="probes/hp")
    estate.lb(
        probes=[{"name": "hp", "properties": {"protocol": "Tcp", "port": 80}}],
        loadBalancingRules=[estate.rule("web", probe="hp"), estate.rule("alt", port=81, probe="hp")],
    )
    add_vmss(estate, probe=probe)
    body = get(estate.h, estate.lb_path())
    body["properties"]["loadBalancingRules"][1]["properties"]["backendPort"] = 8080
    resp = put(estate.h, estate.lb_path(), body)
    assert resp.status_code == 400 and error_code(resp) == "CannotModifyRuleUsedByProbeUsedByVMSS"
    body["properties"]["loadBalancingRules"] = body["properties"]["loadBalancingRules"][:1]
    resp = put(estate.h, estate.lb_path(), body)
    assert resp.status_code == 400 and error_code(resp) == "CannotRemoveRuleUsedByProbeUsedByVMSS"
    assert "that is used as health probe by VM scale set" in resp.json()["error"]["message"]
