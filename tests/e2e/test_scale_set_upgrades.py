"""Issue 9.9, end to end on seed 001's scale set (Manual upgrade policy, 3 instances): poolkeeper upgrades only the
instances its own model change made out of date, in batches, and never rolls out someone else's model change."""

from __future__ import annotations

from typing import Any

import pytest

from armsim.simulator import DEFAULT_SUBSCRIPTION
from poolkeeper_local.localrun import LocalRun
from tests.conftest import FAST, SimHandle

pytestmark = pytest.mark.slow

RG = "MyResourceGroup"
VMSS = "MyVMSS"




def _config() -> dict[str, Any]:
    rg_id = f"/subscriptions/{DEFAULT_SUBSCRIPTION}/resourceGroups/{RG}"
    return {"scopes": [rg_id], "upgradeBatchSize": 2,  # armEndpoint: POOLKEEPER_ARM_ENDPOINT, set by LocalRun
            "bindings": [{"name": "vmss", "match": {"scaleSet": VMSS},
                          "loadBalancer": f"{rg_id}/providers/Microsoft.Network/loadBalancers/MyLoadBalancer",
                          "backendPool": "SecondPool"}]}


def _upgrades(sim: SimHandle) -> list[dict[str, Any]]:
    return [e for e in sim.requests_log() if e["method"] == "POST" and e["path"].lower().endswith("/manualupgrade")]


def _stale(run: LocalRun) -> list[str]:
    vms = run.operator.compute.virtual_machine_scale_set_vms.list(RG, VMSS)
    return sorted(v.instance_id for v in vms if not v.latest_model_applied)


def test_own_model_change_upgraded_in_batches_and_someone_elses_only_reported() -> None:
    with LocalRun(scenario="vmss-natpool", time_scale=FAST, throttle=False, resource_group=RG,
                  config=_config()) as run:
        sim = SimHandle(run.sim)
        op = run.operator
        lb = op.network.load_balancers.get(RG, "MyLoadBalancer").as_dict()
        lb["properties"]["backendAddressPools"].append({"name": "SecondPool"})
        op.network.load_balancers.begin_create_or_update(RG, "MyLoadBalancer", lb).result()
        run.control("POST", "eventgrid/flush", {"timeout": 30})
        sim.reset_log()
        resp = run.reconcile({})
        assert resp.status_code == 200, resp.text
        # poolkeeper's own change: the pool in the model, then its 3 instances upgraded in batches of 2
        assert len(_upgrades(sim)) == 2
        assert _stale(run) == []
        vmss = op.compute.virtual_machine_scale_sets.get(RG, VMSS)
        assert not any(k.startswith("poolkeeper.upgrade") for k in (vmss.tags or {}))  # record cleared
        run.control("POST", "eventgrid/flush", {"timeout": 30})

        # someone else's change: a new image in the model. Every instance is out of date; poolkeeper must not roll
        # it out, neither on the event nor on a full reconcile
        sim.reset_log()
        body = op.compute.virtual_machine_scale_sets.get(RG, VMSS).as_dict()
        body["properties"]["virtualMachineProfile"]["storageProfile"]["imageReference"]["sku"] = "20.04-LTS"
        op.compute.virtual_machine_scale_sets.begin_create_or_update(RG, VMSS, body).result()
        run.control("POST", "eventgrid/flush", {"timeout": 30})
        resp = run.reconcile({})
        assert resp.status_code == 200, resp.text
        assert _upgrades(sim) == []
        assert _stale(run) == ["0", "1", "2"]
        reports = [f for o in resp.json()["outcomes"] for f in o["plan"]["findings"]]
        assert [r["guardrail"] for r in reports] == ["ModelChangedBySomeoneElse"]
