"""ARM ids: parsing, case-insensitive identity, scopes."""

from __future__ import annotations

import pytest

from poolkeeper.ids import ResourceId, id_key, in_scope, parse_id, same_id, scale_set_of, vnet_of_subnet

POOL = "/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Network/loadBalancers/lb/backendAddressPools/p"
VMSS_IP = ("/subscriptions/sub1/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachineScaleSets/ss/"
           "virtualMachines/3/networkInterfaces/nic/ipConfigurations/ip")


def test_parse_nested_child() -> None:
    rid = parse_id(POOL)
    assert rid.subscription == "sub1"
    assert rid.resource_group == "rg1"
    assert rid.namespace == "Microsoft.Network"
    assert rid.types == ("loadBalancers", "backendAddressPools")
    assert rid.names == ("lb", "p")
    assert rid.name == "p"
    assert rid.type == "Microsoft.Network/loadBalancers/backendAddressPools"
    assert str(rid) == POOL


def test_parse_scale_set_instance_nic_ipconfig() -> None:
    rid = parse_id(VMSS_IP)
    assert rid.types == ("virtualMachineScaleSets", "virtualMachines", "networkInterfaces", "ipConfigurations")
    assert rid.names == ("ss", "3", "nic", "ip")
    assert rid.type == ("Microsoft.Compute/virtualMachineScaleSets/virtualMachines/networkInterfaces/"
                        "ipConfigurations")
    assert rid.top.name == "ss"
    assert scale_set_of(VMSS_IP) == id_key(str(rid.top))


def test_parent_chain_and_child() -> None:
    rid = parse_id(POOL)
    lb = rid.parent
    assert lb is not None and lb.type == "Microsoft.Network/loadBalancers" and lb.name == "lb"
    rg = lb.parent
    assert rg is not None and rg.is_scope and rg.name == "rg1"
    sub = rg.parent
    assert sub is not None and sub.name == "sub1" and sub.parent is None
    assert lb.child("backendAddressPools", "p") == rid
    with pytest.raises(ValueError, match="scope"):
        rg.child("x", "y")


def test_case_insensitive_identity() -> None:
    a = parse_id(POOL)
    b = parse_id(POOL.upper().replace("/SUBSCRIPTIONS/", "/subscriptions/"))
    assert a == b and hash(a) == hash(b)
    assert a.key == POOL.lower()
    assert same_id(POOL, POOL.lower() + "/")
    assert not same_id(POOL, POOL + "x")
    assert same_id(None, None) and not same_id(POOL, None)
    assert {a: 1}[b] == 1


def test_ancestor_of_type() -> None:
    rid = parse_id(VMSS_IP)
    ss = rid.ancestor_of_type("microsoft.compute/virtualmachinescalesets")
    assert ss is not None and ss.name == "ss"
    assert rid.ancestor_of_type("Microsoft.Network/loadBalancers") is None


@pytest.mark.parametrize("bad, words", [
    ("subscriptions/x", "must start with '/subscriptions/'"),
    ("/subs/x", "must start with '/subscriptions/<id>'"),
    ("/subscriptions/x/resourceGroups", "expected '/resourceGroups/<group>'"),
    ("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network", "/providers/<Namespace>/<type>/<name>"),
    ("/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/lb/backendAddressPools",
     "has no name after it"),
    ("/subscriptions/x//resourceGroups/rg", "empty segment"),
])
def test_bad_ids_name_the_id_and_show_a_valid_one(bad: str, words: str) -> None:
    with pytest.raises(ValueError) as exc:
        ResourceId.parse(bad)
    assert repr(bad) in str(exc.value)
    assert words in str(exc.value)
    assert "/subscriptions/<subscription-id>/resourceGroups/<group>/providers/" in str(exc.value)


def test_in_scope_segment_boundaries() -> None:
    vm = "/subscriptions/S/resourceGroups/RG10/providers/Microsoft.Compute/virtualMachines/v"
    assert in_scope(vm, ["/subscriptions/s"])
    assert in_scope(vm, ["/subscriptions/s/resourcegroups/rg10"])
    assert not in_scope(vm, ["/subscriptions/s/resourceGroups/rg1"])
    assert not in_scope(vm, ["/subscriptions/s2"])
    assert in_scope(vm, ["/subscriptions/other", "/subscriptions/S/resourceGroups/rg10/"])
    assert not in_scope(vm, [])


def test_vnet_of_subnet() -> None:
    sn = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/V/subnets/x"
    assert vnet_of_subnet(sn) == "/subscriptions/s/resourcegroups/rg/providers/microsoft.network/virtualnetworks/v"
    assert vnet_of_subnet(None) is None
