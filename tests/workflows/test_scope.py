"""Issue 9 item 2: the NAT-pool workflows never read or write outside ``scopes`` — HTTP, CLI and resume alike.

The estate is seed 001's plus a look-alike resource group ``MyResourceGroup2`` (a prefix of the in-scope group's
name is not a scope) holding a second scale set ``MyVMSS`` whose model uses the in-scope load balancer's NAT pool.
poolkeeper is scoped to ``MyResourceGroup``. Every assertion about "not touched" is taken from armsim's request log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from poolkeeper.gateway import ArmGateway
from poolkeeper.workflows import INTENT_TAG, Workflows
from poolkeeper.workflows import http as wf_http
from poolkeeper.workflows.preconditions import PreconditionsFailed
from poolkeeper.workflows.runner import Hooks, SimulatedCrash
from poolkeeper.workflows.scope import OutOfScope
from tests.workflows.conftest import RG, Estate
from tests.workflows.helpers import labels

ROOT = Path(__file__).resolve().parents[2]
OTHER_RG = "MyResourceGroup2"
OTHER_SUB = "00000000-0000-0000-0000-00000000beef"
POOL = "SharedNatPool"


def requests_into(log: list[dict[str, Any]], fragment: str) -> list[str]:
    """Requests whose path reaches ``fragment`` (a path segment pair such as ``/resourceGroups/X/``)."""
    return [f"{e['method']} {e['path']}" for e in log if fragment.lower() in (e["path"].lower() + "/")]


def into_other_group(estate: Estate) -> list[str]:
    return requests_into(estate.sim.requests_log(), f"/resourceGroups/{OTHER_RG}/")


def add_outside_scale_set(estate: Estate) -> str:
    """NAT pool ``SharedNatPool`` on the in-scope load balancer, used only by a scale set ``MyVMSS`` in the look-alike
    group (Azure lets one NAT pool serve one scale set). Azure derives NAT rules for that scale set's instances."""
    lb = estate.lb()
    frontend = f"{estate.lb_id}/frontendIPConfigurations/MyFrontendIp"
    lb["properties"]["inboundNatPools"].append({"name": POOL, "properties": {
        "frontendIPConfiguration": {"id": frontend}, "protocol": "Tcp", "frontendPortRangeStart": 50200,
        "frontendPortRangeEnd": 50299, "backendPort": 22}})
    lb_body = {k: lb[k] for k in ("location", "sku", "properties")}
    vmss = estate.vmss()
    props = {k: vmss["properties"][k] for k in ("orchestrationMode", "upgradePolicy", "virtualMachineProfile",
                                                 "overprovision")}
    ipc = props["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"][0]["properties"][
        "ipConfigurations"][0]["properties"]
    ipc["loadBalancerInboundNatPools"] = [{"id": f"{estate.lb_id}/inboundNatPools/{POOL}"}]
    body = {"location": vmss["location"], "sku": vmss["sku"], "properties": props}
    other = estate.sim.rid(OTHER_RG, "Microsoft.Compute/virtualMachineScaleSets/MyVMSS")
    engine = estate.sim.engine
    estate.sim.sim.call(lambda: engine.internal_put(estate.lb_id, lb_body))
    estate.sim.sim.call(lambda: engine.ensure_resource_group(OTHER_RG, "westus"))
    estate.sim.sim.call(lambda: engine.internal_put(other, body))
    derived = [r for r in estate.lb()["properties"]["inboundNatRules"] if r["name"].startswith(f"{POOL}.")]
    assert len(derived) == 3, f"the outside scale set's instances should hold {POOL} ports: {derived}"
    assert f"/resourcegroups/{OTHER_RG.lower()}/" in derived[0]["properties"]["backendIPConfiguration"]["id"].lower()
    return other


def scoped(estate: Estate) -> Workflows:
    scope = f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/{RG}"
    clients = estate.clients
    return Workflows(lambda sub, cid: ArmGateway(clients, correlation_id=cid, max_wait=2.0), estate.store,
                     scopes=[scope])


def remove_body(estate: Estate, pool: str = POOL, **extra: Any) -> dict[str, Any]:
    return {"loadBalancer": estate.lb_id, "natPool": pool, **extra}


def test_remove_refuses_a_nat_pool_shared_with_an_out_of_scope_scale_set(estate: Estate) -> None:
    other = add_outside_scale_set(estate)
    wf = scoped(estate)
    estate.sim.reset_log()
    dry = wf_http.submit(wf, "remove-natpool", remove_body(estate), dry_run=True)
    assert dry.status == 200 and dry.body["wouldBeRefused"] is True, dry.body
    [problem] = dry.body["problems"]
    assert problem["code"] == "OutOfScope"
    assert other.lower() in problem["message"].lower() and f"resourceGroups/{RG}" in problem["message"]
    assert dry.body["plan"] == []
    with pytest.raises(PreconditionsFailed) as refused:
        wf.submit(wf.parse("remove-natpool", remove_body(estate)))
    assert refused.value.problems[0].guardrail == "OutOfScope"
    real = wf_http.submit(wf, "remove-natpool", remove_body(estate), dry_run=False, wait=30)
    assert real.status == 409 and real.body["problems"][0]["code"] == "OutOfScope"
    assert into_other_group(estate) == [], "zero requests may reach the out-of-scope resource group"
    assert labels(estate.sim.requests_log()) == [], "a refusal writes nothing"
    assert INTENT_TAG not in (estate.lb().get("tags") or {})


def test_migrate_refuses_the_same_and_writes_nothing(estate: Estate) -> None:
    add_outside_scale_set(estate)
    wf = scoped(estate)
    estate.sim.reset_log()
    dry = wf_http.submit(wf, "migrate-natpool", remove_body(estate), dry_run=True)
    assert dry.body["wouldBeRefused"] is True and dry.body["problems"][0]["code"] == "OutOfScope"
    with pytest.raises(PreconditionsFailed):
        wf.submit(wf.parse("migrate-natpool", remove_body(estate)))
    assert into_other_group(estate) == []
    assert labels(estate.sim.requests_log()) == []


def test_a_scale_set_named_in_another_resource_group_or_subscription_is_refused_unread(estate: Estate) -> None:
    other_group = estate.sim.rid(OTHER_RG, "Microsoft.Compute/virtualMachineScaleSets/MyVMSS")
    other_sub = f"/subscriptions/{OTHER_SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/" \
                "virtualMachineScaleSets/ElsewhereVMSS"
    wf = scoped(estate)
    for named in (other_group, other_sub):
        estate.sim.reset_log()
        body = remove_body(estate, "MyNatPool", scaleSets=[named])
        dry = wf_http.submit(wf, "remove-natpool", body, dry_run=True)
        assert dry.body["wouldBeRefused"] is True, dry.body
        assert any(p["code"] == "OutOfScope" and named.lower() in p["message"].lower() and "scopes" in p["message"]
                   for p in dry.body["problems"]), dry.body["problems"]
        with pytest.raises(PreconditionsFailed):
            wf.submit(wf.parse("remove-natpool", body))
        log = estate.sim.requests_log()
        assert requests_into(log, f"/resourceGroups/{OTHER_RG}/") == []
        assert requests_into(log, f"/subscriptions/{OTHER_SUB}/") == []
        # the old defect read /subscriptions/<own>/…/ElsewhereVMSS: the other subscription's id in our own
        assert requests_into(log, "/ElsewhereVMSS/") == [], "another subscription's scale set read in our own"
        assert labels(log) == []


def test_change_probed_port_refuses_a_named_scale_set_out_of_scope(estate: Estate) -> None:
    other = add_outside_scale_set(estate)
    wf = scoped(estate)
    estate.sim.reset_log()
    body = {"loadBalancer": estate.lb_id, "rule": "MyLoadBalancerRule", "newBackendPort": 8080, "scaleSets": [other]}
    dry = wf_http.submit(wf, "change-probed-port", body, dry_run=True)
    assert dry.body["wouldBeRefused"] is True and dry.body["problems"][0]["code"] == "OutOfScope", dry.body
    real = wf_http.submit(wf, "change-probed-port", body, dry_run=False, wait=30)
    assert real.status == 409 and real.body["problems"][0]["code"] == "OutOfScope"
    assert into_other_group(estate) == []
    assert labels(estate.sim.requests_log()) == []


def test_another_subscription_in_scope_is_still_not_read_with_this_subscriptions_clients(estate: Estate) -> None:
    """Even when the other subscription is in scope, the run's clients are bound to the load balancer's one."""
    clients = estate.clients
    scopes = [f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/{RG}", f"/subscriptions/{OTHER_SUB}"]
    wf = Workflows(lambda sub, cid: ArmGateway(clients, correlation_id=cid, max_wait=2.0), estate.store,
                   scopes=scopes)
    named = f"/subscriptions/{OTHER_SUB}/resourceGroups/{RG}/providers/Microsoft.Compute/virtualMachineScaleSets/X1"
    estate.sim.reset_log()
    dry = wf.submit(wf.parse("remove-natpool", remove_body(estate, "MyNatPool", scaleSets=[named])), dry_run=True)
    assert dry["status"] == "refused" and "subscription" in dry["problems"][0]["message"]
    assert requests_into(estate.sim.requests_log(), "/X1/") == []


def test_resume_of_an_operation_whose_scale_set_is_now_out_of_scope_stops_unread(estate: Estate) -> None:
    """Started while unrestricted (or under older scopes) and killed after recording its intent; resumed under
    scopes that exclude a scale set it reaches: it fails with OutOfScope, touching nothing outside."""
    add_outside_scale_set(estate)
    intent = estate.workflows.parse("remove-natpool", remove_body(estate))
    with pytest.raises(SimulatedCrash):
        estate.workflows.submit(intent, hooks=Hooks(crash_after_step=1))
    assert INTENT_TAG in (estate.lb().get("tags") or {})
    wf = scoped(estate)
    estate.sim.reset_log()
    record = wf.resume(intent.id)
    assert record["status"] == "failed" and record["error"]["code"] == "OutOfScope", record.get("error")
    results = wf.resume_pending([f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/{RG}"])
    assert results[0]["status"] == "failed"
    assert into_other_group(estate) == []
    assert labels(estate.sim.requests_log()) == []


def test_resume_and_submit_refuse_a_load_balancer_out_of_scope_before_reading_it(estate: Estate) -> None:
    intent = estate.workflows.parse("remove-natpool", remove_body(estate, "MyNatPool"))
    with pytest.raises(SimulatedCrash):
        estate.workflows.submit(intent, hooks=Hooks(crash_after_step=1))
    clients = estate.clients
    elsewhere = Workflows(lambda sub, cid: ArmGateway(clients, correlation_id=cid), estate.store,
                          scopes=[f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/{OTHER_RG}"])
    estate.sim.reset_log()
    with pytest.raises(OutOfScope):
        elsewhere.resume(intent.id)
    with pytest.raises(OutOfScope):
        elsewhere.resume("0123456789ab", load_balancer=estate.lb_id)
    with pytest.raises(OutOfScope):
        elsewhere.submit(intent, dry_run=True)
    assert estate.sim.requests_log() == [], "nothing at all was read"


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "poolkeeper", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)


def test_cli_is_held_to_scopes(estate: Estate, tmp_path: Path) -> None:
    other = add_outside_scale_set(estate)
    scope = f"/subscriptions/{estate.sim.subscription_id}/resourceGroups/{RG}"
    env = {**os.environ, **estate.sim.info.env(), "POOLKEEPER_OPERATIONS_DIR": str(tmp_path / "ops"),
           "PYTHONPATH": str(ROOT), "POOLKEEPER_CONFIG": json.dumps({"scopes": [scope], "bindings": []})}
    estate.sim.reset_log()
    common = ["--load-balancer", estate.lb_id, "--nat-pool", POOL]
    dry = _cli(["natpool", "remove", *common, "--dry-run"], env)
    assert dry.returncode == 1, dry.stdout + dry.stderr
    assert "REFUSED OutOfScope" in dry.stdout and other.lower() in dry.stdout.lower()
    run = _cli(["natpool", "migrate", *common], env)
    assert run.returncode == 1 and "OutOfScope" in run.stderr, run.stderr
    outside_lb = estate.lb_id.replace(f"/resourceGroups/{RG}/", f"/resourceGroups/{OTHER_RG}/")
    lb_out = _cli(["natpool", "remove", "--load-balancer", outside_lb, "--nat-pool", "MyNatPool"], env)
    assert lb_out.returncode == 1 and "outside poolkeeper's scopes" in lb_out.stderr, lb_out.stderr
    probed = _cli(["rule", "change-probed-port", "--load-balancer", outside_lb, "--rule", "MyLoadBalancerRule",
                   "--new-backend-port", "8080", "--dry-run"], env)
    assert probed.returncode == 1 and "outside poolkeeper's scopes" in probed.stderr, probed.stderr
    resume = _cli(["operation", "resume", "0123456789ab", "--load-balancer", outside_lb], env)
    assert resume.returncode == 1 and "outside poolkeeper's scopes" in resume.stderr, resume.stderr
    no_config = {k: v for k, v in env.items() if k != "POOLKEEPER_CONFIG"}
    bare = _cli(["natpool", "remove", *common], no_config)
    assert bare.returncode == 2 and "scopes" in bare.stderr
    assert into_other_group(estate) == []
    assert labels(estate.sim.requests_log()) == []
