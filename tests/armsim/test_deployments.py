"""ARM template deployments and the resource listing: the pure template language, and deployments over HTTPS."""

from __future__ import annotations

import time
from typing import Any

import pytest

from armsim.resources import expressions as ex
from armsim.resources.expressions import TemplateError
from armsim.resources.odata import compile_filter
from armsim.resources.template import TemplateScope, build_plan
from tests.conftest import SimHandle

SUB = "00000000-0000-0000-0000-000000000001"
RG_BODY = {"id": f"/subscriptions/{SUB}/resourceGroups/g", "name": "g", "location": "westus"}


def scope(template: dict[str, Any], params: dict[str, Any] | None = None) -> TemplateScope:
    return TemplateScope(template, params or {}, SUB, "t", RG_BODY, "d")


def test_expressions_parse_and_evaluate_without_eval() -> None:
    s = scope({"parameters": {"n": {"type": "string", "defaultValue": "web"}},
               "variables": {"v": "[concat(parameters('n'), '-', 'x')]", "o": {"a": [1, 2, 3]}}})
    f = s.functions
    assert ex.evaluate_string("[variables('v')]", f) == "web-x"
    assert ex.evaluate_string("[variables('o').a[2]]", f) == 3
    assert ex.evaluate_string("[format('{0}-{1:D3}', 'vm', 7)]", f) == "vm-007"
    assert ex.evaluate_string("[if(equals(parameters('n'), 'web'), 'yes', error('not evaluated'))]", f) == "yes"
    assert ex.evaluate_string("[resourceGroup().location]", f) == "westus"
    assert ex.evaluate_string("[[not an expression]", f) == "[not an expression]"
    assert ex.evaluate_string("['it''s']", f) == "it's"
    assert ex.evaluate_string("[resourceId('Microsoft.Network/virtualNetworks/subnets', 'v', 's')]", f) == (
        f"/subscriptions/{SUB}/resourceGroups/g/providers/Microsoft.Network/virtualNetworks/v/subnets/s")
    assert len(ex.evaluate_string("[uniqueString(resourceGroup().id)]", f)) == 13
    with pytest.raises(TemplateError, match="not valid"):
        build_plan({"resources": [_res("[nosuch('x')]")]}, scope({}))
    for bad in ("[__import__('os')]", "[concat('a']", "[parameters('missing')]", "[concat('a') + 1]"):
        with pytest.raises(TemplateError):
            ex.evaluate_string(bad, f)


def _res(name: str, *deps: str, **extra: Any) -> dict[str, Any]:
    return {"type": "Microsoft.Network/publicIPAddresses", "apiVersion": "2024-07-01", "name": name,
            "location": "westus", "dependsOn": list(deps), **extra}


def test_plan_orders_by_dependencies_expands_copy_and_refuses_cycles() -> None:
    template = {"resources": [
        _res("c", "b"),
        _res("[concat('ip', copyIndex())]", copy={"name": "ips", "count": 2}),
        _res("b", "ips"),
        _res("skipped", condition="[equals(1, 2)]"),
        _res("r", properties={"x": "[reference('c').ipAddress]"}),  # implicit dependency on c
    ]}
    plan = build_plan(template, scope(template))
    order = [p.name for p in plan.resources]
    assert order.index("ip0") < order.index("b") and order.index("ip1") < order.index("b")
    assert order.index("b") < order.index("c") < order.index("r")
    assert "skipped" not in order
    cyclic = {"resources": [_res("a", "b"), _res("b", "a")]}
    with pytest.raises(TemplateError, match="Circular dependency"):
        build_plan(cyclic, scope(cyclic))
    with pytest.raises(TemplateError, match="not defined"):
        build_plan({"resources": [_res("a", "nope")]}, scope({}))
    with pytest.raises(TemplateError, match="not provided"):
        scope({"parameters": {"p": {"type": "string"}}})


def test_odata_filter_forms_az_sends() -> None:
    res = {"id": "/subscriptions/s/resourceGroups/G/providers/Microsoft.Network/publicIPAddresses/ip",
           "name": "ip", "type": "Microsoft.Network/publicIPAddresses", "location": "westus",
           "tags": {"env": "dev", "owner": "ops"}}
    assert compile_filter("resourceGroup eq 'g' and name eq 'IP' and resourceType eq "
                          "'Microsoft.Network/publicIPAddresses'")(res)
    assert not compile_filter("resourceType eq 'Microsoft.Compute/virtualMachines'")(res)
    assert compile_filter("tagName eq 'env' and tagValue eq 'dev'")(res)
    assert not compile_filter("tagName eq 'owner' and tagValue eq 'dev'")(res)  # one tag, not any two
    assert compile_filter("substringof('i', name) or location eq 'eastus'")(res)


def _deploy(sim: SimHandle, name: str, template: dict[str, Any]) -> dict[str, Any]:
    path = f"/subscriptions/{sim.subscription_id}/resourcegroups/g/providers/Microsoft.Resources/deployments/{name}"
    put = sim.arm("PUT", path, {"properties": {"mode": "Incremental", "template": template}},
                  api_version="2024-11-01")
    assert put.status_code in (200, 201, 400), put.text
    if put.status_code == 400:
        return put.json()
    assert put.json()["properties"]["provisioningState"] == "Accepted"
    status_path = "/" + put.headers["Azure-AsyncOperation"].split("/", 3)[3].split("?")[0]
    deadline = time.monotonic() + 30
    while sim.arm("GET", status_path, api_version="2024-11-01").json()["status"] == "Running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return sim.arm("GET", path, api_version="2024-11-01").json()


def test_deployment_creates_through_providers_and_reports_failures(armsim: SimHandle) -> None:
    armsim.arm("PUT", f"/subscriptions/{armsim.subscription_id}/resourcegroups/g", {"location": "westus"},
               api_version="2024-11-01")
    events: list[dict[str, Any]] = []
    armsim.engine.event_listeners.append(events.append)
    ok = _deploy(armsim, "ok", {"resources": [
        {"type": "Microsoft.Network/virtualNetworks", "apiVersion": "2024-07-01", "name": "v", "location": "westus",
         "properties": {"addressSpace": {"addressPrefixes": ["10.0.0.0/16"]}}},
        {"type": "Microsoft.Network/virtualNetworks/subnets", "apiVersion": "2024-07-01", "name": "v/s",
         "dependsOn": ["v"], "properties": {"addressPrefix": "10.0.0.0/24"}}],
        "outputs": {"prefix": {"type": "string", "value": "[reference('v/s').addressPrefix]"}}})
    assert ok["properties"]["provisioningState"] == "Succeeded"
    assert ok["properties"]["outputs"] == {"prefix": {"type": "String", "value": "10.0.0.0/24"}}
    vnet = armsim.clients().network.virtual_networks.get("g", "v")
    assert [s.name for s in vnet.subnets] == ["s"]
    # the resources' own events (as for a direct PUT), then the deployment's, all with the deployment's correlation id
    ops = [(e["eventType"].rsplit(".", 1)[1], e["data"]["operationName"]) for e in events]
    assert ops == [
        ("ResourceWriteSuccess", "Microsoft.Network/virtualNetworks/write"),
        ("ResourceWriteSuccess", "Microsoft.Network/virtualNetworks/subnets/write"),
        ("ResourceWriteSuccess", "Microsoft.Resources/deployments/write"),
    ]
    assert events[-1]["subject"] == ok["id"]
    assert len({e["data"]["correlationId"] for e in events}) == 1
    events.clear()
    # a resource its provider refuses fails the deployment with the provider's own error as a detail
    failed = _deploy(armsim, "bad", {"resources": [
        {"type": "Microsoft.Network/loadBalancers", "apiVersion": "2024-07-01", "name": "lb", "location": "westus",
         "sku": {"name": "Standard"}, "properties": {"frontendIPConfigurations": [{"name": "f", "properties": {
             "publicIPAddress": {"id": f"/subscriptions/{armsim.subscription_id}/resourceGroups/g/providers/"
                                       "Microsoft.Network/publicIPAddresses/missing"}}}]}}]})
    assert failed["properties"]["provisioningState"] == "Failed"
    assert failed["properties"]["error"]["code"] == "DeploymentFailed"
    assert failed["properties"]["error"]["details"][0]["code"]
    assert [(e["eventType"], e["data"]["status"]) for e in events] == [
        ("Microsoft.Resources.ResourceWriteFailure", "Failed")]
    invalid = _deploy(armsim, "invalid", {"resources": [_res("x", "nothing")]})
    assert invalid["error"]["code"] == "InvalidTemplate"
    listed = armsim.arm("GET", f"/subscriptions/{armsim.subscription_id}/resources",
                        api_version="2024-11-01").json()["value"]
    assert [r["name"] for r in listed] == ["v"]  # top-level only: the subnet is not listed
