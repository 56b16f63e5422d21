"""Configuration loading and validation: every error names its field path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from poolkeeper.config import ConfigError, load_config, load_config_from_env, parse_config

from .builders import AVSET_ID, LB_ID, SCOPE, binding, ssh


def _cfg(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"scopes": [SCOPE], "bindings": [binding(nat=ssh())]}
    data.update(over)
    return data


def _error(data: Any) -> str:
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    return str(exc.value)


def test_full_config_and_defaults() -> None:
    c = parse_config(_cfg())
    assert c.scopes == (SCOPE,)
    assert c.arm_endpoint == "https://management.azure.com"
    assert c.upgrade_batch_size == 20 and c.dry_run is False and dict(c.guardrails) == {}
    assert c.flexible_wired_grace_s == 300
    b = c.bindings[0]
    assert b.name == "web" and b.backend_pool == "myBackEndPool" and b.apply_model_to_instances is True
    assert b.match.availability_set == "myAvailabilitySet"
    assert b.nat_rule is not None and b.nat_rule.frontend_port_range == (50001, 50100) and b.nat_rule.mode == "v1"
    assert b.pool_id == f"{LB_ID}/backendAddressPools/myBackEndPool"
    assert b.frontend_id == f"{LB_ID}/frontendIPConfigurations/myFrontEndPool"
    assert c.binding("web") is b and c.binding("nope") is None


def test_protocol_normalised_and_options() -> None:
    c = parse_config(_cfg(bindings=[binding(nat=ssh(protocol="udp", mode="v2"), applyModelToInstances=False,
                                            match={"availabilitySet": AVSET_ID, "tags": {"role": "web"},
                                                   "namePattern": "myVM*", "resourceGroup": "myTutorial8"})],
                          upgradeBatchSize=5, dryRun=True, guardrails={"PK006": {"mode": "enforce"}},
                          armEndpoint="https://management.usgovcloudapi.net/"))
    b = c.bindings[0]
    assert b.nat_rule is not None and b.nat_rule.protocol == "Udp" and b.nat_rule.mode == "v2"
    assert b.apply_model_to_instances is False
    assert b.match.tags == {"role": "web"} and b.match.name_pattern == "myVM*"
    assert c.upgrade_batch_size == 5 and c.dry_run is True and c.guardrails == {"PK006": {"mode": "enforce"}}
    assert c.arm_endpoint == "https://management.usgovcloudapi.net"
    assert parse_config(_cfg(flexibleWiredGraceSeconds=0)).flexible_wired_grace_s == 0  # 0 is a value, not unset


def test_port_range_reversed_names_field() -> None:
    data = _cfg(bindings=[binding(name="a", match={"namePattern": "x*"}),
                          binding(name="b", nat=ssh(start=50100, end=50001))])
    msg = _error(data)
    assert ("bindings[1].natRule.frontendPortRange: start 50100 is above end 50001; give [start, end] with "
            "start <= end") in msg


@pytest.mark.parametrize("mutate, expected", [
    (lambda d: d.pop("scopes"), "scopes: is required"),
    (lambda d: d.update(scopes=[]), "scopes: must be a non-empty list"),
    (lambda d: d.update(scopes=["/subscriptions/x/resourceGroups/rg/providers/Microsoft.Network/loadBalancers/l"]),
     "scopes[0]: "),
    (lambda d: d.update(scopes=["nope"]), "scopes[0]: invalid resource id 'nope'"),
    (lambda d: d.update(armEndpoint="http://x"), "armEndpoint: 'http://x' must be an https:// URL"),
    (lambda d: d.update(upgradeBatchSize=0), "upgradeBatchSize: 0 is out of range"),
    (lambda d: d.update(upgradeBatchSize=True), "upgradeBatchSize: must be an integer"),
    (lambda d: d.update(flexibleWiredGraceSeconds=-1), "flexibleWiredGraceSeconds: -1 is out of range"),
    (lambda d: d.update(flexibleWiredGraceSeconds="5m"), "flexibleWiredGraceSeconds: must be an integer"),
    (lambda d: d.update(dryRun="yes"), "dryRun: must be true or false"),
    (lambda d: d.update(guardrails=[]), "guardrails: must be a JSON object"),
    (lambda d: d.update(bindigns=[]), "(top level): unknown key(s) 'bindigns'"),
    (lambda d: d.update(bindings={}), "bindings: must be a JSON list"),
    (lambda d: d["bindings"][0].update(name="bad name!"), "bindings[0].name: 'bad name!' must be 1-64"),
    (lambda d: d["bindings"][0].pop("name"), "bindings[0].name: must be a non-empty string"),
    (lambda d: d["bindings"][0].update(loadbalancer="x"), "bindings[0]: unknown key(s) 'loadbalancer'"),
    (lambda d: d["bindings"][0].update(loadBalancer="/subscriptions/x"), "bindings[0].loadBalancer: "),
    (lambda d: d["bindings"][0].update(
        loadBalancer="/subscriptions/other/resourceGroups/r/providers/Microsoft.Network/loadBalancers/l"),
     "bindings[0].loadBalancer: /subscriptions/other/resourceGroups/r/providers/Microsoft.Network/loadBalancers/l is "
     "outside every configured scope"),
    (lambda d: d["bindings"][0].update(backendPool=f"{LB_ID}/backendAddressPools/p"),
     "bindings[0].backendPool: "),
    (lambda d: d["bindings"][0].update(match={}), "bindings[0].match: must give at least one of"),
    (lambda d: d["bindings"][0].update(match={"tag": {}}), "bindings[0].match: unknown key(s) 'tag'"),
    (lambda d: d["bindings"][0].update(match={"tags": {"a": 1}}), "bindings[0].match.tags.a: must be a string"),
    (lambda d: d["bindings"][0].update(match={"scaleSet": "/subscriptions/s/resourceGroups/r/providers/"
                                                          "Microsoft.Compute/virtualMachines/v"}),
     "bindings[0].match.scaleSet: "),
    (lambda d: d["bindings"][0]["natRule"].update(backendPort=70000), "bindings[0].natRule.backendPort: 70000"),
    (lambda d: d["bindings"][0]["natRule"].update(protocol="icmp"), "bindings[0].natRule.protocol: 'icmp' must be"),
    (lambda d: d["bindings"][0]["natRule"].update(mode="v3"), "bindings[0].natRule.mode: 'v3' must be"),
    (lambda d: d["bindings"][0]["natRule"].update(frontendPortRange=[0, 10]),
     "bindings[0].natRule.frontendPortRange[0]: 0 is out of range"),
    (lambda d: d["bindings"][0]["natRule"].update(frontendPortRange=[1, 65535]),
     "bindings[0].natRule.frontendPortRange[1]: 65535 is out of range"),
    (lambda d: d["bindings"][0]["natRule"].update(frontendPortRange=5),
     "bindings[0].natRule.frontendPortRange: must be a list of two integers"),
    (lambda d: d["bindings"][0]["natRule"].update(frontendPort=5), "bindings[0].natRule: unknown key(s)"),
    (lambda d: d["bindings"][0]["natRule"].pop("frontendIpConfiguration"),
     "bindings[0].natRule.frontendIpConfiguration: must be a non-empty string"),
    (lambda d: d["bindings"][0].update(applyModelToInstances="no"),
     "bindings[0].applyModelToInstances: must be true or false"),
    (lambda d: d["bindings"].append(binding()), "bindings[1].name: 'web' is already used by bindings[0]"),
])
def test_errors_name_the_field(mutate: Any, expected: str) -> None:
    data = json.loads(json.dumps(_cfg()))
    mutate(data)
    assert expected in _error(data)


def test_all_errors_reported_at_once() -> None:
    data = _cfg(upgradeBatchSize=-1, dryRun=1)
    with pytest.raises(ConfigError) as exc:
        parse_config(data)
    assert len(exc.value.errors) == 2


def test_top_level_must_be_object() -> None:
    assert "(top level): must be a JSON object" in _error([1])


def test_load_from_file_inline_and_env(tmp_path: Path) -> None:
    text = json.dumps(_cfg())
    path = tmp_path / "pk.json"
    path.write_text(text)
    assert load_config(str(path)).bindings[0].name == "web"
    assert load_config("  " + text).bindings[0].name == "web"
    assert load_config_from_env({"POOLKEEPER_CONFIG": str(path)}).scopes == (SCOPE,)
    with pytest.raises(ConfigError, match="POOLKEEPER_CONFIG is not set"):
        load_config_from_env({})
    with pytest.raises(ConfigError, match="cannot read configuration file"):
        load_config(str(tmp_path / "missing.json"))
    with pytest.raises(ConfigError, match="not valid JSON: .* line 1"):
        load_config("{nope")


def test_config_is_frozen() -> None:
    c = parse_config(_cfg())
    with pytest.raises(AttributeError):
        c.dry_run = True  # type: ignore[misc]
