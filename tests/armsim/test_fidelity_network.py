"""Network fidelity (issue 15): SKU rules, the retired Basic SKU and NAT pools, backend ports per ip configuration,
availability sets behind a Basic pool — each with Azure's error code (sources in armsim/network/*.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.armsim.test_network_support import API, Estate, error_code, get, put, seed
from tests.conftest import SimHandle

RG = "myTutorial8"
SAME_PORT = "RulesOfSameLoadBalancerTypeUseSameBackendPortProtocolAndIPConfig"


def test_standard_lb_cannot_reference_a_basic_public_ip(estate: Estate) -> None:
    basic = estate.pip("bpip", sku="Basic")  # an existing legacy address (seeded)
    resp = estate.lb(expect=None, pip=basic)
    assert resp.status_code == 400 and error_code(resp) == "PublicIPAndLBSkuDoNotMatch"
    assert "Standard sku load balancer" in resp.json()["error"]["message"]


def test_nic_cannot_mix_basic_and_standard_lb_and_public_ip(estate: Estate) -> None:
    estate.lb()  # Standard
    body = estate.nic_body(pools=[estate.lb_path(child="backendAddressPools/pool")])
    body["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"] = {"id": estate.pip("b", sku="Basic")}
    resp = put(estate.h, estate.path("networkInterfaces/nic"), body)
    assert resp.status_code == 400 and error_code(resp) == "DifferentSkuLoadBalancersAndPublicIPAddressNotAllowed"
    body["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"] = {"id": estate.pip("s")}
    put(estate.h, estate.path("networkInterfaces/nic"), body, expect=201)


def test_new_basic_public_ip_is_refused_but_an_existing_one_still_updates(estate: Estate) -> None:
    body = {"location": "westus", "sku": {"name": "Basic"}, "properties": {"publicIPAllocationMethod": "Dynamic"}}
    resp = put(estate.h, estate.path("publicIPAddresses/new"), body)
    assert resp.status_code == 400 and error_code(resp) == "IPv4BasicSkuPublicIpCountLimitReached"
    no_sku = put(estate.h, estate.path("publicIPAddresses/new"), {"location": "westus"})  # the default SKU is Basic
    assert no_sku.status_code == 400 and error_code(no_sku) == "IPv4BasicSkuPublicIpCountLimitReached"
    old = estate.pip("legacy", sku="Basic")
    current = get(estate.h, old)
    current["tags"] = {"migration": "rehearsal"}
    assert put(estate.h, old, current).status_code == 200


def test_new_basic_load_balancer_is_refused_but_an_existing_one_still_updates(estate: Estate) -> None:
    resp = estate.lb("basic", expect=None, sku="Basic")
    assert resp.status_code == 400 and error_code(resp) == "BasicSkuLoadBalancerCreationNotAllowed"
    estate.seed_lb("basic", sku="Basic")
    body = estate.lb_body("basic", sku="Basic", loadBalancingRules=[estate.rule("web", lb="basic")])
    assert put(estate.h, estate.lb_path("basic"), body).status_code == 200


def test_tutorial_basic_estate_still_loads_and_changes(tutorial_basic: SimHandle) -> None:
    tutorial = tutorial_basic
    lb = get(tutorial, tutorial.rid(RG, "Microsoft.Network/loadBalancers/myLoadBalancer"))
    assert lb["sku"]["name"] == "Basic" and lb["properties"]["backendAddressPools"][0]["name"] == "myBackEndPool"
    resp = tutorial.arm("PUT", lb["id"], lb, api_version=API)
    assert resp.status_code == 200, resp.text


def test_new_nat_pool_is_refused_but_existing_ones_stay_and_can_be_removed(estate: Estate) -> None:
    estate.lb()
    pool = estate.nat_pool("np", 50000, 50010)
    resp = estate.lb(expect=None, inboundNatPools=[pool])
    assert resp.status_code == 400 and error_code(resp) == "InboundNatPoolCreationNotAllowed"
    estate.seed_lb(inboundNatPools=[pool])  # an estate from before the retirement
    kept = estate.lb(expect=200, inboundNatPools=[pool], loadBalancingRules=[estate.rule("web")])
    assert [p["name"] for p in kept.json()["properties"]["inboundNatPools"]] == ["np"]
    assert get(estate.h, estate.lb_path(child="inboundNatPools/np"))["name"] == "np"
    removed = estate.lb(expect=200)
    assert removed.json()["properties"]["inboundNatPools"] == []


def test_two_lbs_sending_one_backend_port_to_one_ip_configuration(estate: Estate) -> None:
    estate.lb("a", loadBalancingRules=[estate.rule("ssh", lb="a", port=22)])
    estate.lb("b", loadBalancingRules=[estate.rule("ssh", lb="b", port=22)])
    pools = [estate.lb_path("a", "backendAddressPools/pool"), estate.lb_path("b", "backendAddressPools/pool")]
    resp = estate.nic("nic", expect=None, pools=pools)
    assert resp.status_code == 400 and error_code(resp) == SAME_PORT
    estate.nic("nic", pools=pools[:1])
    # a public and an internal load balancer may both send port 22 to it (the rule is per load balancer type)
    estate.lb("p", pip=estate.pip("ppip"), loadBalancingRules=[estate.rule("ssh", lb="p", port=22)])
    estate.nic("nic", expect=200, pools=[pools[0], estate.lb_path("p", "backendAddressPools/pool")])


def test_nat_rule_and_lb_rule_with_one_backend_port_on_one_ip_configuration(estate: Estate) -> None:
    estate.lb(loadBalancingRules=[estate.rule("web", port=80)],
              inboundNatRules=[estate.nat_rule("n", 5000, backend=80)])
    resp = estate.nic("nic", expect=None, pools=[estate.lb_path(child="backendAddressPools/pool")],
                      nat_rules=[estate.lb_path(child="inboundNatRules/n")])
    assert resp.status_code == 400 and error_code(resp) == SAME_PORT


def _vm(nic_id: str, avset: str) -> dict[str, Any]:
    return {
        "location": "westus",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_DS1_v2"},
            "availabilitySet": {"id": avset},
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer",
                                                  "sku": "18.04-LTS", "version": "latest"},
                               "osDisk": {"createOption": "FromImage"}},
            "networkProfile": {"networkInterfaces": [{"id": nic_id}]},
        },
    }


def test_vm_in_another_availability_set_cannot_join_a_basic_pool(tutorial_basic: SimHandle) -> None:
    h = tutorial_basic
    net, comp = h.rid(RG, "Microsoft.Network"), h.rid(RG, "Microsoft.Compute")
    other = f"{comp}/availabilitySets/otherSet"
    assert h.arm("PUT", other, {"location": "westus"}, api_version="2024-07-01").status_code == 200
    nic = f"{net}/networkInterfaces/myNic4"
    put(h, nic, {"location": "westus", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {
        "subnet": {"id": f"{net}/virtualNetworks/myVnet/subnets/mySubnet"},
        "loadBalancerBackendAddressPools": [{"id": f"{net}/loadBalancers/myLoadBalancer/backendAddressPools/"
                                                   "myBackEndPool"}]}}]}}, expect=201)
    resp = h.arm("PUT", f"{comp}/virtualMachines/myVM4", _vm(nic, other), api_version="2024-07-01")
    assert resp.status_code == 400, resp.text
    assert error_code(resp) == "NetworkInterfaceAndLoadBalancerAreInDifferentAvailabilitySets"
    # refused before anything was written: no VM, the NIC is not attached, the other set is empty
    assert h.arm("GET", f"{comp}/virtualMachines/myVM4", api_version="2024-07-01").status_code == 404
    assert "virtualMachine" not in get(h, nic)["properties"]
    assert h.arm("GET", other, api_version="2024-07-01").json()["properties"]["virtualMachines"] == []
    same_set = f"{comp}/availabilitySets/myAvailabilitySet"
    ok = h.arm("PUT", f"{comp}/virtualMachines/myVM4", _vm(nic, same_set), api_version="2024-07-01")
    assert ok.status_code in (200, 201), ok.text


def test_seeding_is_validated_like_arm_except_for_retirement(estate: Estate) -> None:
    from armsim.errors import ArmError

    with pytest.raises(ArmError) as err:
        seed(estate.h, estate.lb_path("x"), estate.lb_body("x", sku="Basic", pip=estate.pip("std")))
    assert err.value.code == "PublicIPAndLBSkuDoNotMatch"


def test_backend_pool_get_lists_nic_members_as_backend_addresses(estate: Estate) -> None:
    estate.lb()
    pool = estate.lb_path(child="backendAddressPools/pool")
    empty = get(estate.h, pool)
    assert empty["properties"]["loadBalancerBackendAddresses"] == []
    estate.nic("nic", pools=[pool])
    got = get(estate.h, pool)["properties"]["loadBalancerBackendAddresses"]
    ipc = estate.path("networkInterfaces/nic/ipConfigurations/ipconfig1")
    assert [a["properties"]["networkInterfaceIPConfiguration"]["id"] for a in got] == [ipc]
    # echoing the GET back changes nothing (the entry is computed, not stored as an IP-based address)
    assert put(estate.h, pool, get(estate.h, pool)).status_code == 200
    assert get(estate.h, pool)["properties"]["loadBalancerBackendAddresses"] == got


def test_admin_state_is_stored_returned_and_needs_standard(estate: Estate) -> None:
    estate.lb()
    pool = estate.lb_path(child="backendAddressPools/pool")
    estate.nic("nic", pools=[pool])
    body = get(estate.h, pool)
    body["properties"]["loadBalancerBackendAddresses"][0]["properties"]["adminState"] = "Down"
    assert put(estate.h, pool, body).status_code == 200
    entry = get(estate.h, pool)["properties"]["loadBalancerBackendAddresses"][0]
    assert entry["properties"]["adminState"] == "Down"
    lb = get(estate.h, estate.lb_path())  # a whole-LB read-modify-write keeps it
    assert put(estate.h, estate.lb_path(), lb).status_code == 200
    assert get(estate.h, pool)["properties"]["loadBalancerBackendAddresses"][0]["properties"]["adminState"] == "Down"
    body["properties"]["loadBalancerBackendAddresses"][0]["properties"]["adminState"] = "Sideways"
    bad = put(estate.h, pool, body)
    assert bad.status_code == 400 and error_code(bad) == "InvalidRequestFormat"
    estate.seed_lb("basic", sku="Basic", pip=estate.pip("bpip", sku="Basic"))
    addr = {"name": "a", "properties": {"ipAddress": "10.0.0.9", "adminState": "Up",
                                        "virtualNetwork": {"id": estate.path("virtualNetworks/vnet")}}}
    resp = put(estate.h, estate.lb_path("basic", "backendAddressPools/pool"),
               {"properties": {"loadBalancerBackendAddresses": [addr]}})
    assert resp.status_code == 400 and error_code(resp) == "AdminStateNotSupportedOnBasicSkuLoadBalancer"


def test_patch_of_tags_replaces_the_tag_set(estate: Estate) -> None:
    nsg = estate.path("networkSecurityGroups/nsg")
    put(estate.h, nsg, {"location": "westus", "tags": {"a": "1", "b": "2"}}, expect=201)
    resp = estate.h.arm("PATCH", nsg, {"tags": {"c": "3"}}, api_version=API)
    assert resp.status_code == 200, resp.text
    assert get(estate.h, nsg)["tags"] == {"c": "3"}
    sdk = estate.h.clients().network.network_security_groups.update_tags("rg1", "nsg", {"tags": {"d": "4"}})
    assert sdk.tags == {"d": "4"}
