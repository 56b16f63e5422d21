"""The scheduled sweep wires what events missed, and never fights a person: a NIC someone took out of its pool by
hand (seed 003 step 5) stays out — on the event path and in the sweep — is reported as PK013 with who and when, and
comes back with ``restore`` (or by itself with the binding's ``repair: always``)."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import jsonschema
import requests
from azure.functions.timer import TimerRequest

import function_app
from armsim.simulator import DEFAULT_SUBSCRIPTION
from poolkeeper.report import schema
from poolkeeper_local.host import indexed_functions
from poolkeeper_local.localrun import tutorial_config as localrun_tutorial_config
from tests.e2e.conftest import RG, Poolkeeper
from tests.e2e.test_event_driven import nat_rules, nic_wiring


def run_timer(name: str) -> None:
    fn = next(f for f in indexed_functions(function_app.app) if f.get_function_name() == name)
    binding = fn.get_trigger().get_dict_repr()["name"]
    fn.get_user_function()(**{binding: TimerRequest(past_due=False)})


def remove_from_pool_by_hand(pk: Poolkeeper, nic: str) -> None:
    """What ``az network nic ip-config address-pool remove … --nic-name myNic2`` does: GET, drop the pool, PUT."""
    nics = pk.operator.network.network_interfaces
    body = nics.get(RG, nic).as_dict()
    body["properties"]["ipConfigurations"][0]["properties"]["loadBalancerBackendAddressPools"] = []
    nics.begin_create_or_update(RG, nic, body).result()


def pk013(report: dict[str, Any]) -> list[dict[str, Any]]:
    return report["findingsByGuardrail"].get("PK013", [])


def test_sweep_wires_everything_and_a_hand_made_removal_stays_removed(
        poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    run_timer("compliance_sweep")
    assert {"pk-myVM1-22", "pk-myVM2-22", "pk-myVM3-22"} <= set(nat_rules(pk))
    assert nic_wiring(pk, "myNic2") == (["myBackEndPool"], ["pk-myVM2-22"])
    remove_from_pool_by_hand(pk, "myNic2")
    pk.flush_events()  # the person's NIC write reaches poolkeeper's event path, which must not undo it
    assert nic_wiring(pk, "myNic2") == ([], ["pk-myVM2-22"])
    answer = pk.post("sweep", dryRun="false")
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert nic_wiring(pk, "myNic2") == ([], ["pk-myVM2-22"]), "the sweep does not put it back (repair: never)"
    latest = requests.get(f"{pk.url}/api/report/latest", timeout=30)
    assert latest.status_code == 200 and latest.json()["correlationIds"] == report["correlationIds"]
    page = requests.get(f"{pk.url}/api/report/latest.html", timeout=30)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert 'data-lb="myLoadBalancer"' in page.text and "myNic2 (not in pool)" in page.text
    [finding] = pk013(report)
    assert finding["resourceId"].endswith("/myNic2") and finding["evidence"]["kind"] == "removedByPerson"
    assert finding["evidence"]["removedBy"] not in ("unknown", pk.poolkeeper_oid())  # the person's object id
    assert finding["evidence"]["removedAt"] != "unknown"
    assert nat_rules(pk)["pk-myVM2-22"]["frontendPort"] == 50002  # the VM keeps its rule and port meanwhile
    vm2 = pk.sim.rid(RG, "Microsoft.Compute/virtualMachines/myVM2")
    restored = pk.post("restore", {"vmId": vm2}, dryRun="false")
    assert restored.status_code == 200, restored.text
    assert restored.json()["status"] == "restored"
    assert nic_wiring(pk, "myNic2") == (["myBackEndPool"], ["pk-myVM2-22"])
    pk.flush_events()
    pk.sim.reset_log()
    run_timer("compliance_sweep")
    assert pk.writes() == [], "a sweep over a compliant estate writes nothing"
    reconciled = pk.post("reconcile", {}, dryRun="true").json()  # every run answers its report, same schema
    jsonschema.validate(reconciled["report"], schema())
    assert reconciled["report"]["kind"] == "reconcile" and reconciled["report"]["summary"]["changesPlanned"] == 0


def test_repair_always_puts_a_removed_nic_back(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    info = SimpleNamespace(subscription_id=DEFAULT_SUBSCRIPTION, arm_endpoint="https://management.azure.com")
    pk = poolkeeper_factory(config=localrun_tutorial_config(info, RG, repair="always"))  # type: ignore[arg-type]
    assert pk.post("sweep", dryRun="false").status_code == 200
    assert nic_wiring(pk, "myNic2") == (["myBackEndPool"], ["pk-myVM2-22"])
    remove_from_pool_by_hand(pk, "myNic2")
    pk.flush_events()
    pk.post("sweep", dryRun="false")
    assert nic_wiring(pk, "myNic2") == (["myBackEndPool"], ["pk-myVM2-22"])
    assert pk013(pk.post("sweep", dryRun="false").json()) == []
