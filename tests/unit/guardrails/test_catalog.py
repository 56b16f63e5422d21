"""One test per guardrail: the clean estate passes every guardrail; one seeded violation yields exactly that id."""

from __future__ import annotations

from typing import Any

import pytest

from poolkeeper.guardrails import catalog
from poolkeeper.guardrails.registry import REGISTRY
from tests.unit.builders import (
    LB_ID,
    POOL_ID,
    binding,
    compute_id,
    config,
    instance,
    ipconfig_id,
    nat_pool,
    nat_rule,
    nic,
    scale_set,
    ssh,
    subnet_id,
    vm,
)
from tests.unit.guardrails.estate import PIP_ID, clean, clean_config, findings, ids, nsg, rule, vnet


def only(ids_found: set[str], expected: str) -> None:
    assert ids_found == {expected}, ids_found


def test_catalog_is_pk001_to_pk015_each_citing_a_source() -> None:
    catalog.load()
    assert sorted(REGISTRY) == [f"PK{i:03d}" for i in range(1, 16)]
    for g in REGISTRY.values():
        assert g.source and g.title and g.fix_hint and g.default_mode in g.modes


def test_clean_estate_has_no_findings() -> None:
    assert findings(clean()) == []


def test_pk001_public_ip_on_a_pool_member() -> None:
    e = clean()
    e["nics"][1]["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"] = {"id": PIP_ID + "2"}
    [f] = findings(e)
    assert f.guardrail == "PK001" and f.resource_id.endswith("myNic2") and f.evidence["publicIps"] == [PIP_ID + "2"]
    # an unmanaged pool is not checked unless allPools
    pools = e["load_balancers"][0]["properties"]["backendAddressPools"]
    pools.append({"name": "other", "id": f"{LB_ID}/backendAddressPools/other"})
    cfg = config(binding(pool="other"))
    assert "PK001" not in ids(e, cfg)
    assert "PK001" in ids(e, config(binding(pool="other"), guardrails={"PK001": {"allPools": True}}))


def test_pk002_pool_spans_two_subnets() -> None:
    e = clean()
    e["virtual_networks"] = [vnet(extra_subnets=("other",))]
    e["nics"][2]["properties"]["ipConfigurations"][0]["properties"]["subnet"] = {"id": subnet_id(subnet="other")}
    only(ids(e), "PK002")


def test_pk003_availability_set_with_one_vm() -> None:
    e = clean()
    e["vms"] = e["vms"][:1]
    e["nics"] = e["nics"][:1]
    lbp = e["load_balancers"][0]["properties"]
    lbp["inboundNatRules"] = lbp["inboundNatRules"][:1]
    only(ids(e), "PK003")


@pytest.mark.parametrize("change", ["no-probe", "tcp-probe"])
def test_pk004_rule_without_probe_or_http_probed_with_tcp(change: str) -> None:
    e = clean()
    lbp = e["load_balancers"][0]["properties"]
    if change == "no-probe":
        del lbp["loadBalancingRules"][0]["properties"]["probe"]
    else:
        lbp["probes"][0]["properties"] = {"protocol": "Tcp", "port": 80}
    only(ids(e), "PK004")


def test_pk005_nsg_denies_the_probe_before_the_default_allow() -> None:
    e = clean()
    e["nsgs"] = [nsg(rule("allow-http", 1001, port="80"), rule("deny-lb", 900, port="80", source="AzureLoadBalancer",
                                                            access="Deny"))]
    fs = findings(e)
    assert {f.guardrail for f in fs} == {"PK005"} and len(fs) == 3
    assert "deny-lb" in fs[0].evidence["decidedBy"]


def test_pk005_subnet_nsg_counts_too() -> None:
    e = clean()
    sub = nsg(rule("deny-all", 100, access="Deny", protocol="*"), nsg_id=LB_ID.replace(
        "loadBalancers/myLoadBalancer", "networkSecurityGroups/subnetNsg"))
    e["nsgs"].append(sub)
    e["virtual_networks"] = [vnet(subnet_nsg=sub["id"])]
    assert ids(e) == {"PK005"}


def test_pk006_nsg_open_to_internet_and_nat_rule_to_open_backend() -> None:
    e = clean()
    e["nsgs"] = [nsg(rule("allow-http", 1001, port="80"), rule("ssh", 1002, port="22", source="Internet"))]
    fs = findings(e)
    assert {f.guardrail for f in fs} == {"PK006"}
    kinds = sorted(f.resource_id.rsplit("/", 2)[-2] for f in fs)
    assert kinds == ["inboundNatRules"] * 3 + ["securityRules"]


def test_pk006_restricted_source_passes_and_ports_parameter() -> None:
    e = clean()
    e["nsgs"] = [nsg(rule("allow-http", 1001, port="80"), rule("ssh", 1002, port="22", source="203.0.113.0/24"),
                     rule("rdp", 1003, port="3000-3400", source="0.0.0.0/0"))]
    assert [f.evidence.get("port") for f in findings(e)] == [3389]
    cfg = clean_config(PK006={"ports": [22]})
    assert findings(e, cfg) == []


def test_pk006_standard_lb_without_any_nsg_is_closed_basic_is_open() -> None:
    e = clean()
    for n in e["nics"]:
        del n["properties"]["networkSecurityGroup"]
    e["nsgs"] = []
    assert ids(e) == set()
    e["load_balancers"][0]["sku"] = {"name": "Basic"}
    assert "PK006" in ids(e)


def _with_scale_sets(e: dict[str, Any], *names: str, probe: bool = False) -> None:
    for name in names:
        ss = scale_set(name, pools=(POOL_ID,))
        if probe:
            ss["properties"]["virtualMachineProfile"]["networkProfile"]["healthProbe"] = {
                "id": f"{LB_ID}/probes/myHealthProbe"}
        ss["properties"]["singlePlacementGroup"] = False
        e.setdefault("scale_sets", []).append(ss)


def test_pk007_two_scale_sets_on_one_load_balancer() -> None:
    e = clean()
    _with_scale_sets(e, "ss1", "ss2")
    cfg = config(binding(nat=ssh(end=50099)), binding("ss", match={"scaleSet": "nothing"}))
    assert "PK007" in ids(e, cfg)
    assert "PK007" not in ids(e, config(binding(nat=ssh(end=50099)), guardrails={"PK007": {"allow": True}}))


def test_pk008_outbound_rule_while_a_rule_keeps_implicit_snat() -> None:
    e = clean()
    e["load_balancers"][0]["properties"]["outboundRules"] = [{"name": "out", "id": f"{LB_ID}/outboundRules/out",
                                                              "properties": {"backendAddressPool": {"id": POOL_ID},
                                                                             "protocol": "All"}}]
    only(ids(e), "PK008")
    e["load_balancers"][0]["properties"]["loadBalancingRules"][0]["properties"]["disableOutboundSnat"] = True
    assert ids(e) == set()


def test_pk009_nat_pool_present() -> None:
    e = clean()
    e["load_balancers"][0]["properties"]["inboundNatPools"] = [nat_pool("MyNatPool", 40000, 40099)]
    assert "PK009" in ids(e)


def test_pk010_instances_on_an_old_model() -> None:
    e = clean()
    ss = scale_set("ss1")
    ss["properties"]["singlePlacementGroup"] = False
    e["scale_sets"] = [ss]
    e["scale_set_instances"] = {ss["id"]: [instance(ss["id"], "0"), instance(ss["id"], "1", latest=False)]}
    [f] = findings(e)
    assert f.guardrail == "PK010" and f.evidence["instances"] == ["1"]


def test_pk011_probe_port_differs_from_rule_backend_port_and_inactive_probe() -> None:
    e = clean()
    _with_scale_sets(e, "ss1", probe=True)
    e["load_balancers"][0]["properties"]["probes"][0]["properties"]["port"] = 8080
    fs = findings(e)
    assert {f.guardrail for f in fs} == {"PK011"}
    e = clean()
    _with_scale_sets(e, "ss1", probe=True)
    e["load_balancers"][0]["properties"]["loadBalancingRules"][0]["properties"].pop("probe")
    assert {f.guardrail for f in findings(e) if f.guardrail != "PK004"} == {"PK011"}
    assert "inactive" in next(f.message for f in findings(e) if f.guardrail == "PK011")


def test_pk012_duplicate_port_out_of_range_and_orphans() -> None:
    e = clean()
    rules = e["load_balancers"][0]["properties"]["inboundNatRules"]
    rules[2]["properties"]["frontendPort"] = 50200          # outside the binding's 50001-50099
    rules.append(nat_rule("manual-dup", 50001))             # duplicate of pk-myVM1-22's port, points at nothing
    rules.append(nat_rule("pk-gone-22", 50050, backend_ip_configuration=ipconfig_id("myNicGone")))
    fs = [f for f in findings(e) if f.guardrail == "PK012"]
    kinds = sorted((f.evidence["kind"], f.resource_id.rsplit("/", 1)[-1]) for f in fs)
    assert kinds == [("duplicate", "myLoadBalancer"), ("orphan", "manual-dup"), ("orphan", "pk-gone-22"),
                     ("range", "pk-myVM3-22")]
    fixes = {f.resource_id.rsplit("/", 1)[-1]: REGISTRY["PK012"].fix(f) for f in fs}  # type: ignore[misc]
    assert fixes["manual-dup"] == () and [c.rule_name for c in fixes["pk-gone-22"]] == ["pk-gone-22"]


def test_pk013_drift_vm_not_in_pool_nor_nat_rule() -> None:
    e = clean()
    e["vms"].append(vm("myVM4"))
    e["nics"].append(nic("myNic4", vm=compute_id("virtualMachines", "myVM4")))
    e["nics"][3]["properties"]["networkSecurityGroup"] = {"id": e["nsgs"][0]["id"]}
    fs = findings(e)
    assert {f.guardrail for f in fs} == {"PK013"}
    kinds = sorted(f.evidence["change"]["kind"] for f in fs)
    assert kinds == ["AssignNatRule", "CreateNatRule", "JoinPool"]
    fixes = [REGISTRY["PK013"].fix(f)[0].kind for f in fs]  # type: ignore[misc]
    assert sorted(fixes) == kinds


def test_pk014_capacity_near_the_placement_group_limit() -> None:
    e = clean()
    ss = scale_set("ss1")
    ss["sku"]["capacity"] = 97
    e["scale_sets"] = [ss]
    [f] = findings(e)
    assert f.guardrail == "PK014" and f.evidence["limit"] == 100
    ss["properties"]["singlePlacementGroup"] = False
    assert findings(e) == []


def test_pk015_basic_load_balancer_and_public_ip() -> None:
    e = clean()
    e["load_balancers"][0]["sku"] = {"name": "Basic"}
    e["public_ips"][0]["sku"] = {"name": "Basic"}
    fs = findings(e)
    assert {f.guardrail for f in fs} == {"PK015"} and len(fs) == 2


def test_mode_off_silences_and_mode_is_reported() -> None:
    e = clean()
    e["public_ips"][0]["sku"] = {"name": "Basic"}
    assert [f.mode for f in findings(e, clean_config(PK015={"mode": "enforce"}))] == ["enforce"]
    assert findings(e, clean_config(PK015={"mode": "off"})) == []
