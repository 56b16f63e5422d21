"""The published Microsoft.Network examples (shared reference, api-version 2024-07-01) against armsim.

Every PUT example's request body is sent as published (subscription replaced, prerequisites created first) and the
answer must have the example response's shape: every key the example has, at every level (children matched by
name), and no back-reference the example does not have. Values such as etags and GUIDs naturally differ.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from armsim.store import Record
from tests.armsim.test_network_support import API, Estate, get, instant, put, seed
from tests.conftest import SimHandle
from tests.reference import REFERENCE_DIR

REF = REFERENCE_DIR
BACK_REFERENCES = {
    "backendIPConfigurations",
    "backendIPConfiguration",
    "loadBalancingRules",
    "inboundNatRules",
    "inboundNatPools",
    "outboundRules",
    "ipConfiguration",
    "ipConfigurations",
    "networkInterfaces",
    "subnets",
    "virtualMachine",
}
# collections that are writable at the top of a load balancer (not back-references there)
LB_COLLECTIONS = {
    "loadBalancingRules",
    "inboundNatRules",
    "inboundNatPools",
    "outboundRules",
    "ipConfigurations",
    "subnets",
}


def key_paths(value: Any, path: str = "", out: set[str] | None = None) -> set[str]:
    """Every key path of a JSON value; list items with a name are addressed by it, others by position."""
    out = set() if out is None else out
    if isinstance(value, dict):
        for k, v in value.items():
            out.add(f"{path}/{k}")
            key_paths(v, f"{path}/{k}", out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            label = item.get("name", i) if isinstance(item, dict) else i
            key_paths(item, f"{path}[{label}]", out)
    return out


def assert_same_shape(ours: Any, example: Any) -> None:
    mine, theirs = key_paths(ours), key_paths(example)
    missing = sorted(theirs - mine)
    assert not missing, f"keys the example has and armsim lacks: {missing}"
    extra_backrefs = sorted(
        p
        for p in mine - theirs
        if p.rsplit("/", 1)[-1] in BACK_REFERENCES
        and not (p.count("/") <= 2 and p.rsplit("/", 1)[-1] in LB_COLLECTIONS)
    )
    assert not extra_backrefs, f"back-references armsim adds that the example lacks: {extra_backrefs}"


def load(name: str, sub: str) -> dict[str, Any]:
    text = (REF / f"network_2024-07-01_{name}.json").read_text()
    return json.loads(text.replace("/subscriptions/subid/", f"/subscriptions/{sub}/"))


@pytest.fixture
def h(armsim: SimHandle) -> SimHandle:
    instant(armsim)
    return armsim


def test_load_balancer_create_with_inbound_nat_pool(h: SimHandle) -> None:
    ex = load("LoadBalancerCreateWithInboundNatPool", h.subscription_id)
    e = Estate(h, "rg1", "eastus")
    e.vnet("lbvnet", subnets={"lbsubnet": "10.0.1.0/24"})
    # new inbound NAT pools are refused over ARM since their retirement began (armsim/network/retirement.py) ...
    refused = h.arm("PUT", e.path("loadBalancers/lb"), ex["parameters"]["parameters"], api_version=API)
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "InboundNatPoolCreationNotAllowed"
    # ... so the published estate is seeded as an existing one, and must still read as the example shows
    seeded = seed(h, e.path("loadBalancers/lb"), ex["parameters"]["parameters"])
    assert_same_shape(seeded, ex["responses"]["201"]["body"])
    assert_same_shape(get(h, e.path("loadBalancers/lb")), ex["responses"]["200"]["body"])
    assert seeded["properties"]["frontendIPConfigurations"][0]["properties"]["privateIPAddress"] == "10.0.1.4"


def test_load_balancer_create_with_outbound_rules(h: SimHandle) -> None:
    ex = load("LoadBalancerCreateWithOutboundRules", h.subscription_id)
    e = Estate(h, "rg1", "eastus")
    e.pip("pip")
    resp = put(h, e.path("loadBalancers/lb"), ex["parameters"]["parameters"], expect=201)
    assert_same_shape(resp.json(), ex["responses"]["201"]["body"])
    again = put(h, e.path("loadBalancers/lb"), ex["parameters"]["parameters"], expect=200)
    assert_same_shape(again.json(), ex["responses"]["200"]["body"])


def test_inbound_nat_rule_create(h: SimHandle) -> None:
    ex = load("InboundNatRuleCreate", h.subscription_id)
    e = Estate(h, "testrg")
    e.pip("pip")
    body = e.lb_body("lb1", pip=e.path("publicIPAddresses/pip"))
    body["properties"]["frontendIPConfigurations"][0]["name"] = "ip1"
    put(h, e.lb_path("lb1"), body, expect=201)
    # the scale-set instance NIC that uses the rule (what makes the rule's backendIPConfiguration)
    nic_id = (
        f"/subscriptions/{h.subscription_id}/resourceGroups/testrg/providers/Microsoft.Compute/"
        f"virtualMachineScaleSets/vmss1/virtualMachines/1/networkInterfaces/nic1"
    )
    nic = {
        "id": nic_id,
        "name": "nic1",
        "properties": {
            "ipConfigurations": [
                {
                    "name": "ip1",
                    "properties": {
                        "loadBalancerInboundNatRules": [{"id": e.lb_path("lb1", "inboundNatRules/natRule1.1")}]
                    },
                }
            ]
        },
    }
    h.sim.call(
        lambda: h.engine.store.put(
            Record(nic_id, "Microsoft.Compute/virtualMachineScaleSets/virtualMachines/" "networkInterfaces", nic)
        )
    )
    rule = (
        h.clients()
        .network.inbound_nat_rules.begin_create_or_update(
            "testrg", "lb1", "natRule1.1", ex["parameters"]["inboundNatRuleParameters"]
        )
        .result()
    )
    assert rule.backend_ip_configuration.id.endswith("virtualMachines/1/networkInterfaces/nic1/ipConfigurations/ip1")
    got = get(h, e.lb_path("lb1", "inboundNatRules/natRule1.1"))
    assert_same_shape(got, ex["responses"]["201"]["body"])
    listed = h.arm("GET", e.lb_path("lb1", "inboundNatRules"), api_version=API).json()
    assert_same_shape(
        listed["value"][0], load("InboundNatRuleList", h.subscription_id)["responses"]["200"]["body"]["value"][0]
    )


def test_backend_address_pool_with_backend_addresses_put(h: SimHandle) -> None:
    ex = load("LBBackendAddressPoolWithBackendAddressesPut", h.subscription_id)
    rg1 = Estate(h, "rg1")
    rg1.vnet("vnetlb")
    e = Estate(h, "testrg")
    e.pip("pip")
    body = e.lb_body("lb", pip=e.path("publicIPAddresses/pip"), loadBalancingRules=[e.rule("rulelb", pool="backend")])
    body["properties"]["backendAddressPools"] = [{"name": "backend"}]
    put(h, e.lb_path("lb"), body, expect=201)
    resp = put(h, e.lb_path("lb", "backendAddressPools/backend"), ex["parameters"]["parameters"], expect=200)
    assert_same_shape(resp.json(), ex["responses"]["200"]["body"])


def test_load_balancer_get_and_pool_get(h: SimHandle) -> None:
    ex = load("LoadBalancerGet", h.subscription_id)
    e = Estate(h, "rg1")
    e.vnet("vnetlb", subnets={"subnetlb": "10.0.1.0/24"})
    lb = e.path("loadBalancers/lb")
    # the published GET (a Basic LB: seeded, as ARM no longer creates Basic LBs), sent back as a PUT body: read-only
    # fields and all
    seed(h, lb, ex["responses"]["200"]["body"])
    assert put(h, lb, ex["responses"]["200"]["body"]).status_code == 200
    assert_same_shape(get(h, lb), ex["responses"]["200"]["body"])
    pool_ex = load("LoadBalancerBackendAddressPoolGet", h.subscription_id)
    t = Estate(h, "testrg")
    t.vnet()
    body = t.lb_body("lb", loadBalancingRules=[t.rule("rulelb", pool="backend")])
    body["properties"]["backendAddressPools"] = [{"name": "backend"}]
    put(h, t.lb_path("lb"), body, expect=201)
    t.nic("nic", ipconfig="default-ip-config", pools=[t.lb_path("lb", "backendAddressPools/backend")])
    assert_same_shape(get(h, t.lb_path("lb", "backendAddressPools/backend")), pool_ex["responses"]["200"]["body"])


def test_network_interface_get(h: SimHandle) -> None:
    from armsim.network.nic import set_nic_virtual_machine

    ex = load("NetworkInterfaceGet", h.subscription_id)
    e = Estate(h, "rg1", "eastus")
    e.vnet("rg1-vnet", prefix="172.20.0.0/16", subnets={"default": "172.20.2.0/24"})
    e.pip("test-ip", sku="Basic")
    put(h, e.path("networkSecurityGroups/nsg"), {"location": "eastus"}, expect=201)
    body = {
        "location": "eastus",
        "properties": {
            "networkSecurityGroup": {"id": e.path("networkSecurityGroups/nsg")},
            "enableAcceleratedNetworking": True,
            "disableTcpStateTracking": True,
            "ipConfigurations": [
                {
                    "name": "ipconfig1",
                    "properties": {
                        "subnet": {"id": e.subnet("rg1-vnet")},
                        "primary": True,
                        "publicIPAddress": {"id": e.path("publicIPAddresses/test-ip")},
                    },
                },
                {"name": "ipconfig2", "properties": {"subnet": {"id": e.subnet("rg1-vnet")}, "primary": False}},
            ],
        },
    }
    put(h, e.path("networkInterfaces/test-nic"), body, expect=201)
    vm = f"/subscriptions/{h.subscription_id}/resourceGroups/rg1/providers/Microsoft.Compute/virtualMachines/vm1"
    h.sim.call(lambda: set_nic_virtual_machine(h.engine, e.path("networkInterfaces/test-nic"), vm))
    example = ex["responses"]["200"]["body"]
    # not modelled: IP prefix allocation on a secondary ipconfig and DSCP configurations
    example["properties"]["ipConfigurations"][1]["properties"].pop("privateIPAddressPrefixLength")
    example["properties"].pop("dscpConfiguration")
    assert_same_shape(get(h, e.path("networkInterfaces/test-nic")), example)
