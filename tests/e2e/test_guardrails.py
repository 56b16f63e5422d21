"""Issue 11 acceptance on armsim through the real SDKs: the violations estate yields exactly PK001-PK015, the
tutorial estate only what it truly has, reading costs LIST calls only, and enforcement on the event path."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from azure.identity import ManagedIdentityCredential

from armsim.simulator import DEFAULT_SUBSCRIPTION
from poolkeeper.checks import check_scopes
from poolkeeper.config import parse_config
from poolkeeper.reconciler import Reconciler
from poolkeeper_local.localrun import tutorial_config as localrun_tutorial_config
from tests.conftest import SimHandle
from tests.e2e.conftest import RG, Poolkeeper, nic_body, tutorial_config, vm_body
from tests.e2e.test_cli import run_cli
from tests.e2e.test_event_driven import nic_wiring, wait_until

pytestmark = pytest.mark.slow

VRG = "pkViolations"
ALL = {f"PK{i:03d}" for i in range(1, 16)}
# where each seeded violation is (the last segment of each finding's resource id); see armsim/scenarios/violations.py
EXPECTED = {
    "PK001": {"vmA4-nic"}, "PK002": {"web"}, "PK003": {"avSolo"}, "PK004": {"noprobe"}, "PK005": {"vmA3-nic"},
    "PK006": {"ssh-anywhere"}, "PK007": {"lbSets"}, "PK008": {"http", "noprobe"}, "PK009": {"natpool"},
    "PK010": {"ss2"}, "PK011": {"app"}, "PK012": {"orphan-nat"}, "PK013": {"vmA6-nic"}, "PK014": {"ss1", "ss2"},
    "PK015": {"lbBasic", "pipBasic"},
}


def violations_config(sim: SimHandle, **guardrails: Any) -> dict[str, Any]:
    rg = f"/subscriptions/{sim.subscription_id}/resourceGroups/{VRG}"
    return {"scopes": [rg], "armEndpoint": sim.info.arm_endpoint,
            "bindings": [{"name": "web", "match": {"availabilitySet": "avWeb"},
                          "loadBalancer": f"{rg}/providers/Microsoft.Network/loadBalancers/lbWeb",
                          "backendPool": "web"}],
            # PK014 is seeded by its parameter (headroom 98 of 100 < 99), not by ~96 instances
            "guardrails": {"PK014": {"minHeadroom": 99}, **guardrails}}


def run_check(sim: SimHandle, config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    reconciler = Reconciler(parse_config(config), ManagedIdentityCredential())
    try:
        return check_scopes(reconciler, **kwargs)
    finally:
        reconciler.close()


def by_id(answer: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in answer["findings"]:
        out.setdefault(f["guardrail"], set()).add(f["resourceId"].rstrip("/").rsplit("/", 1)[-1])
    return out


def test_one_seeded_violation_per_guardrail_read_with_list_calls_only(
        armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="violations")
    sim.reset_log()
    answer = run_check(sim, violations_config(sim))
    assert by_id(answer) == EXPECTED
    assert answer["failed"] is True
    for f in answer["findings"]:
        keys = {"guardrail", "severity", "mode", "resourceId", "message", "evidence", "fix"}
        assert keys <= set(f) <= keys | {"binding"} and f["fix"]
    log = sim.requests_log()
    assert log and all(e["method"] == "GET" for e in log)
    # a collection path ends with a type (odd count of segments after /providers/<namespace>), never a name
    for e in log:
        tail = e["path"].split("?")[0].split("/providers/", 1)[1].split("/")[1:]
        assert len(tail) % 2 == 1, f"per-resource GET {e['path']}"
    listed = {e["path"].split("?")[0].rsplit("/", 1)[-1].lower() for e in log}
    assert {"networksecuritygroups", "publicipaddresses", "virtualnetworks", "loadbalancers"} <= listed


def test_guardrail_filter_and_off_mode(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="violations")
    answer = run_check(sim, violations_config(sim, PK015={"mode": "off"}), guardrails=["PK005", "PK015"])
    assert by_id(answer) == {"PK005": {"vmA3-nic"}}
    with pytest.raises(ValueError, match="PK099"):
        run_check(sim, violations_config(sim), guardrails=["PK099"])


def test_cli_check_exit_codes_and_json(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="violations")
    config = violations_config(sim)
    failed = run_cli(sim, "check", "--json", config=config)
    assert failed.returncode == 2, failed.stderr
    assert {f["guardrail"] for f in json.loads(failed.stdout)["findings"]} == ALL
    medium_only = run_cli(sim, "check", "--guardrail", "PK003", config=config)
    assert medium_only.returncode == 0, medium_only.stderr  # PK003 is medium; --fail-on defaults to high
    assert "PK003" in medium_only.stdout and "avSolo" in medium_only.stdout
    strict = run_cli(sim, "check", "--guardrail", "PK003", "--fail-on", "medium", config=config)
    assert strict.returncode == 2


def test_tutorial_estate_has_only_what_it_truly_has(armsim_factory: Callable[..., SimHandle]) -> None:
    """The tutorial (seed 003) probes its HTTP rule on port 80 with TCP — ``az network lb probe create --protocol
    tcp --port 80`` — which seed 000 advises against (PK004), and was built with Basic SKUs in its era (PK015).
    Expected ids are derived from what the estate holds, read through the SDK, so a Standard rebuild of the
    scenario changes the expectation by construction."""
    sim = armsim_factory(scenario="tutorial")
    ops = sim.clients()
    lb = ops.network.load_balancers.get(RG, "myLoadBalancer").as_dict()
    pips = [p.as_dict() for p in ops.network.public_ip_addresses.list(RG)]
    expected = set()
    if lb.get("sku", {}).get("name", "Basic").lower() == "basic" or any(
            p.get("sku", {}).get("name", "Basic").lower() == "basic" for p in pips):
        expected.add("PK015")
    probes = {p["id"].lower(): p for p in lb["properties"].get("probes") or []}
    for rule in lb["properties"].get("loadBalancingRules") or []:
        probe = probes.get(rule["properties"].get("probe", {}).get("id", "").lower())
        if probe is None or (probe["properties"]["protocol"].lower() == "tcp"
                             and rule["properties"]["backendPort"] in (80, 8080)):
            expected.add("PK004")
    config = tutorial_config(sim)
    del config["bindings"][0]["natRule"]  # NAT rules would be drift (PK013) until poolkeeper applies them
    assert set(by_id(run_check(sim, config))) == expected


# -- enforcement on the event path ------------------------------------------------------------------------------


@pytest.fixture
def poolkeeper_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """poolkeeper's logger does not propagate (it writes JSON lines itself): attach caplog's handler to it."""
    logger = logging.getLogger("poolkeeper")
    logger.addHandler(caplog.handler)
    caplog.set_level(logging.INFO, logger="poolkeeper")
    yield caplog
    logger.removeHandler(caplog.handler)


def enforcing_config(**guardrails: Any) -> dict[str, Any]:
    """The tutorial's binding before the simulator starts (its subscription id is fixed; the local run points the
    ARM endpoint at armsim through POOLKEEPER_ARM_ENDPOINT)."""
    info = SimpleNamespace(subscription_id=DEFAULT_SUBSCRIPTION, arm_endpoint="https://management.azure.com")
    return {**localrun_tutorial_config(info, RG), "guardrails": guardrails}  # type: ignore[arg-type]


def create_vm_with_public_ip(pk: Poolkeeper) -> None:
    ops = pk.operator
    sku = (ops.network.load_balancers.get(RG, "myLoadBalancer").as_dict().get("sku") or {}).get("name", "Basic")
    pip = ops.network.public_ip_addresses.begin_create_or_update(RG, "myVM4PublicIP", {
        "location": "westus", "sku": {"name": sku},  # the load balancer's SKU: Azure refuses a mix
        "properties": {"publicIPAllocationMethod": "Static"}}).result()
    body = nic_body(pk.sim, "myNic4")
    body["properties"]["ipConfigurations"][0]["properties"]["publicIPAddress"] = {"id": pip.id}
    ops.network.network_interfaces.begin_create_or_update(RG, "myNic4", body).result()
    ops.compute.virtual_machines.begin_create_or_update(RG, "myVM4", vm_body(pk.sim, "myVM4", "myNic4")).result()


def test_enforce_refuses_a_new_vm_whose_nic_has_a_public_ip(
        poolkeeper_factory: Callable[..., Poolkeeper], poolkeeper_logs: pytest.LogCaptureFixture) -> None:
    pk = poolkeeper_factory(config=enforcing_config(PK001={"mode": "enforce"}))
    assert pk.post("reconcile", {}).status_code == 200
    create_vm_with_public_ip(pk)
    pk.flush_events()
    assert wait_until(lambda: bool([r for r in poolkeeper_logs.records if r.levelno == logging.WARNING
                                    and getattr(r, "guardrail", None) == "PK001"]))
    refusals = [r for r in poolkeeper_logs.records
                if r.levelno == logging.WARNING and getattr(r, "guardrail", None) == "PK001"]
    assert str(refusals[0].resource).endswith("myNic4")
    assert nic_wiring(pk, "myNic4") == ([], [])
    dry = pk.post("reconcile", {"resourceId": pk.sim.rid(RG, "Microsoft.Compute/virtualMachines/myVM4")},
                  dryRun="true").json()
    [finding] = dry["outcomes"][0]["findings"]
    assert finding["guardrail"] == "PK001" and finding["mode"] == "enforce"
    assert dry["outcomes"][0]["plan"]["empty"] is True


def test_audit_wires_it_and_reports_it(poolkeeper_factory: Callable[..., Poolkeeper],
                                       poolkeeper_logs: pytest.LogCaptureFixture) -> None:
    pk = poolkeeper_factory()  # default configuration: PK001 in audit mode
    assert pk.post("reconcile", {}).status_code == 200
    create_vm_with_public_ip(pk)
    assert wait_until(lambda: nic_wiring(pk, "myNic4") == (["myBackEndPool"], ["pk-myVM4-22"]))
    notes = [r for r in poolkeeper_logs.records if getattr(r, "guardrail", None) == "PK001"]
    assert notes and all(r.levelno == logging.INFO for r in notes)
    answer = pk.post("check", {"guardrails": ["PK001"]})
    assert answer.status_code == 200, answer.text
    [finding] = answer.json()["findings"]
    assert finding["resourceId"].endswith("myNic4") and finding["mode"] == "audit"
    assert pk.post("check", {"guardrails": "PK001"}).status_code == 400
