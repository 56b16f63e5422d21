"""LoadBalancers_ListInboundNatRulePortMappings: a NAT rule V2's frontend port per backend pool member.

``POST .../loadBalancers/{lb}/backendAddressPools/{pool}/queryInboundNatRulePortMapping`` (stable/2024-07-01
loadBalancer.json, example QueryInboundNatRulePortMapping.json) is a long-running operation: 202 + Location, and the
Location poll answers ``{"inboundNatRulePortMappings": [...]}``. Everything goes through the real SDK method
``load_balancers.begin_list_inbound_nat_rule_port_mappings`` on seed 001's estate after its NAT pool became a V2 rule.
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
POOL = "MyBackendPool"
RULE = "MyNatRule"


@pytest.fixture
def v2(armsim_factory: Any) -> SimHandle:
    """Seed 001 after the NAT pool's retirement: instances in ``MyBackendPool``, NAT rule V2 ``MyNatRule`` on it."""
    sim = armsim_factory(scenario="vmss-natpool")
    c = sim.clients()
    vmss = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    ipc = vmss.virtual_machine_profile.network_profile.network_interface_configurations[0].ip_configurations[0]
    ipc.load_balancer_inbound_nat_pools = None
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    everyone = VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["0", "1", "2"])
    c.compute.virtual_machine_scale_sets.begin_update_instances(RG, VMSS, everyone).result()
    lb = c.network.load_balancers.get(RG, LB).as_dict()
    lb_id = lb["id"]
    props = lb["properties"]
    props["inboundNatPools"] = []
    props["inboundNatRules"] = [r for r in props.get("inboundNatRules") or [] if "." not in r["name"]] + [{
        "name": RULE,
        "properties": {
            "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/MyFrontendIp"},
            "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/{POOL}"},
            "frontendPortRangeStart": 50000,
            "frontendPortRangeEnd": 50119,
            "backendPort": 22,
            "protocol": "Tcp",
        },
    }]
    c.network.load_balancers.begin_create_or_update(RG, LB, lb).result()
    c.close()
    return sim


def _instance_ipconfigs(c: Any) -> dict[str, tuple[str, str]]:
    """Instance id -> (its NIC's ip configuration id, private IP address)."""
    out: dict[str, tuple[str, str]] = {}
    for nic in c.network.network_interfaces.list_virtual_machine_scale_set_network_interfaces(RG, VMSS):
        inst = nic.virtual_machine.id.rstrip("/").split("/")[-1]
        ipc = nic.ip_configurations[0]
        out[inst] = (ipc.id, ipc.private_ip_address)
    return out


def _query(c: Any, body: dict[str, Any], pool: str = POOL) -> list[dict[str, Any]]:
    result = c.network.load_balancers.begin_list_inbound_nat_rule_port_mappings(RG, LB, pool, body).result()
    return [dict(m) for m in result.as_dict().get("inboundNatRulePortMappings") or []]


def _ports(c: Any) -> dict[str, int]:
    """Instance id -> its frontend port on the V2 rule, queried per instance NIC ip configuration."""
    out: dict[str, int] = {}
    for inst, (ipc_id, _ip) in sorted(_instance_ipconfigs(c).items(), reverse=True):
        mappings = _query(c, {"ipConfiguration": {"id": ipc_id}})
        assert [m["inboundNatRuleName"] for m in mappings] == [RULE]
        out[inst] = mappings[0]["frontendPort"]
    return out


def test_mapping_per_instance_nic_in_the_listinboundnatruleportmappings_shape(v2: SimHandle) -> None:
    c = v2.clients()
    ipcs = _instance_ipconfigs(c)
    assert sorted(ipcs) == ["0", "1", "2"]
    for inst, port in (("0", 50000), ("1", 50001), ("2", 50002)):
        assert _query(c, {"ipConfiguration": {"id": ipcs[inst][0]}}) == [
            {"inboundNatRuleName": RULE, "protocol": "Tcp", "frontendPort": port, "backendPort": 22}]
    # the same member named by its address
    assert _query(c, {"ipAddress": ipcs["1"][1]})[0]["frontendPort"] == 50001
    # the same ports show on the pool's members in the load balancer body (NatRulePortMapping: no protocol)
    pool = c.network.load_balancers.get(RG, LB).as_dict()["properties"]["backendAddressPools"][0]
    assert _pool_mappings(pool) == {ipcs[i][0].lower(): [{"inboundNatRuleName": RULE, "frontendPort": p,
                                                          "backendPort": 22}]
                                    for i, p in (("0", 50000), ("1", 50001), ("2", 50002))}


def _pool_mappings(pool: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """ip configuration id (lower) -> ``inboundNatRulesPortMapping`` of each NIC member listing one."""
    out: dict[str, list[dict[str, Any]]] = {}
    for address in pool["properties"].get("loadBalancerBackendAddresses") or []:
        ap = address.get("properties") or {}
        if "inboundNatRulesPortMapping" in ap:
            ipc = ap["networkInterfaceIPConfiguration"]["id"].lower()
            out[ipc] = [dict(m) for m in ap["inboundNatRulesPortMapping"]]
    return out


def test_one_pool_get_gives_every_members_port_as_the_query_does(v2: SimHandle) -> None:
    """Issue 13: after a migration, read every instance's port from the pool in one GET instead of one POST each."""
    c = v2.clients()
    # ports assigned before any query: the GET alone settles them, and the queries agree with it afterwards
    pool = c.network.load_balancer_backend_address_pools.get(RG, LB, POOL).as_dict()
    from_get = _pool_mappings(pool)
    assert sorted(from_get) == sorted(ipc.lower() for ipc, _ip in _instance_ipconfigs(c).values())
    for inst, (ipc_id, _ip) in _instance_ipconfigs(c).items():
        (queried,) = _query(c, {"ipConfiguration": {"id": ipc_id}})
        assert from_get[ipc_id.lower()] == [{"inboundNatRuleName": RULE, "frontendPort": queried["frontendPort"],
                                             "backendPort": queried["backendPort"]}], inst
    # a member that leaves drops out; a new member shows the port the query will give it
    gone = VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["1"])
    c.compute.virtual_machine_scale_sets.begin_delete_instances(RG, VMSS, gone).result()
    vmss = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    vmss.sku.capacity = 3
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    after = _pool_mappings(c.network.load_balancer_backend_address_pools.get(RG, LB, POOL).as_dict())
    assert sorted(m[0]["frontendPort"] for m in after.values()) == [50000, 50001, 50002]
    assert _ports(c) == {ipc_inst: after[ipc.lower()][0]["frontendPort"]
                         for ipc_inst, (ipc, _ip) in _instance_ipconfigs(c).items()}


def test_pool_port_mappings_only_at_api_versions_that_have_them(v2: SimHandle) -> None:
    """``inboundNatRulesPortMapping`` is in stable/2021-03-01/loadBalancer.json, not in 2021-02-01; a pool without a
    NAT rule V2 lists none."""
    path = (f"/subscriptions/{v2.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/"
            f"{LB}/backendAddressPools/{POOL}")
    new = v2.arm("GET", path, api_version="2021-03-01").json()
    old = v2.arm("GET", path, api_version="2021-02-01").json()
    assert len(_pool_mappings(new)) == 3
    assert _pool_mappings(old) == {} and len(old["properties"]["loadBalancerBackendAddresses"]) == 3
    # the rule goes: no member lists a mapping any more
    c = v2.clients()
    lb = c.network.load_balancers.get(RG, LB).as_dict()
    lb["properties"]["inboundNatRules"] = [r for r in lb["properties"]["inboundNatRules"] if r["name"] != RULE]
    c.network.load_balancers.begin_create_or_update(RG, LB, lb).result()
    assert _pool_mappings(c.network.load_balancer_backend_address_pools.get(RG, LB, POOL).as_dict()) == {}


def test_query_is_a_long_running_operation_answered_by_location(v2: SimHandle) -> None:
    c = v2.clients()
    ipc_id = _instance_ipconfigs(c)["0"][0]
    path = (f"/subscriptions/{v2.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/"
            f"{LB}/backendAddressPools/{POOL}/queryInboundNatRulePortMapping")
    resp = v2.arm("POST", path, {"ipConfiguration": {"id": ipc_id}})
    assert resp.status_code == 202 and "/operationResults/" in resp.headers["Location"]
    assert resp.headers.get("Azure-AsyncOperation")
    # the SDK poller waits for the operation and reads the final body from the Location URL
    assert _query(c, {"ipConfiguration": {"id": ipc_id}})[0]["frontendPort"] == 50000


def test_ports_are_stable_across_calls_and_membership_changes(v2: SimHandle) -> None:
    c = v2.clients()
    first = _ports(c)
    assert first == {"0": 50000, "1": 50001, "2": 50002}
    assert _ports(c) == first, "asking again (in another order) changes nothing"

    # instance 1 leaves: the others keep their ports
    gone = VirtualMachineScaleSetVMInstanceRequiredIDs(instance_ids=["1"])
    c.compute.virtual_machine_scale_sets.begin_delete_instances(RG, VMSS, gone).result()
    assert _ports(c) == {"0": 50000, "2": 50002}

    # a new instance takes the lowest free port of the range: the one instance 1 freed
    vmss = c.compute.virtual_machine_scale_sets.get(RG, VMSS)
    vmss.sku.capacity = 3
    c.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, vmss).result()
    ports = _ports(c)
    assert len(ports) == 3 and ports["0"] == 50000 and ports["2"] == 50002
    (new,) = set(ports) - {"0", "2"}
    assert ports[new] == 50001


def test_non_member_and_bad_requests_are_refused(v2: SimHandle) -> None:
    c = v2.clients()
    ipc_id = _instance_ipconfigs(c)["0"][0]
    stranger = ipc_id.replace("/virtualMachines/0/", "/virtualMachines/99/")
    with pytest.raises(HttpResponseError) as err:
        _query(c, {"ipConfiguration": {"id": stranger}})
    assert err.value.status_code == 400
    assert err.value.error.code == "BackendAddressNotFoundInBackendAddressPool"
    assert "/virtualMachines/99/" in err.value.error.message and POOL in err.value.error.message

    with pytest.raises(HttpResponseError) as err:
        _query(c, {"ipAddress": "10.9.9.9"})
    assert err.value.status_code == 400

    with pytest.raises(HttpResponseError) as err:
        _query(c, {})
    assert err.value.status_code == 400 and err.value.error.code == "InvalidRequestFormat"

    with pytest.raises(HttpResponseError) as err:
        _query(c, {"ipConfiguration": {"id": ipc_id}}, pool="NoSuchPool")
    assert err.value.status_code == 404


def test_other_child_actions_are_still_refused(v2: SimHandle) -> None:
    """The child-action path is opt-in per provider: an undeclared action answers as before."""
    path = (f"/subscriptions/{v2.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/loadBalancers/"
            f"{LB}/probes/MyHealthProbe/frobnicate")
    resp = v2.arm("POST", path, {})
    assert resp.status_code == 404 and resp.json()["error"]["code"] == "InvalidResourceType"
