"""NAT rule V2 ports read from the backend pool's GET (one read for every member)."""

from __future__ import annotations

from poolkeeper.workflows.portmap import ports_from_pool

IPC = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/ss/virtualMachines/{}" \
      "/networkInterfaces/nic/ipConfigurations/ipc"


def lb(addresses: list[dict]) -> dict:
    return {"properties": {
        "inboundNatRules": [{"name": "MyNatRule", "properties": {"protocol": "Tcp"}}],
        "backendAddressPools": [
            {"name": "other", "properties": {"loadBalancerBackendAddresses": []}},
            {"name": "myBackendPool", "properties": {"loadBalancerBackendAddresses": addresses}},
        ]}}


def member(instance: str, *mappings: tuple[str, int]) -> dict:
    return {"name": f"m{instance}", "properties": {
        "networkInterfaceIPConfiguration": {"id": IPC.format(instance)},
        "inboundNatRulesPortMapping": [{"inboundNatRuleName": n, "frontendPort": p, "backendPort": 22}
                                       for n, p in mappings]}}


def test_every_member_port_from_one_body() -> None:
    body = lb([member("0", ("MyNatRule", 50000)), member("1", ("other", 7), ("mynatrule", 50001)), member("2")])
    found = ports_from_pool(body, "MYBACKENDPOOL", "MyNatRule")
    assert found == {
        IPC.format("0").lower(): {"inboundNatRuleName": "MyNatRule", "frontendPort": 50000, "backendPort": 22,
                                  "protocol": "Tcp"},
        IPC.format("1").lower(): {"inboundNatRuleName": "mynatrule", "frontendPort": 50001, "backendPort": 22,
                                  "protocol": "Tcp"},
    }  # member 2 has no mapping in the body: the caller asks the POST for it


def test_no_field_no_ports() -> None:
    assert ports_from_pool(lb([{"properties": {"networkInterfaceIPConfiguration": {"id": IPC.format("0")}}}]),
                           "myBackendPool", "MyNatRule") == {}
    assert ports_from_pool({}, "myBackendPool", "MyNatRule") == {}
