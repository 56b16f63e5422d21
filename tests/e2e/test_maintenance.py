"""Drain and restore through armsim: admin state on a Standard load balancer's probed pool, membership removal on
the tutorial's Basic one; exact round trip, refusal under the minimum, and a sweep in between changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import requests

from armsim.scenarios.fleet import fleet_config
from poolkeeper.drain import Maintenance
from poolkeeper.maintenance import DRAIN_TAG, MaintenanceRefused
from tests.conftest import SimHandle
from tests.e2e.test_event_driven import nic_wiring
from tests.e2e.test_sweeps import fleet, reconciler_for, sweep

pytestmark = pytest.mark.slow
NET = "2024-07-01"


def get(sim: SimHandle, rid: str) -> dict[str, Any]:
    body = sim.arm("GET", rid, api_version=NET).json()
    body.pop("etag", None)
    body.get("properties", {}).pop("provisioningState", None)
    return dict(body)


def strip(body: Any) -> Any:
    """Without ETags and provisioning states (they change on every write)."""
    if isinstance(body, dict):
        return {k: strip(v) for k, v in body.items() if k not in ("etag", "provisioningState")}
    if isinstance(body, list):
        return [strip(v) for v in body]
    return body


def test_drain_uses_admin_state_on_a_standard_probed_pool_and_restore_is_exact(
        armsim_factory: Callable[..., SimHandle]) -> None:
    sim = fleet(armsim_factory, lbs=1, vms=3, in_pool=True)
    config = fleet_config(sim.subscription_id, sim.info.arm_endpoint, lbs=1)
    vm = sim.rid("pkFleet", "Microsoft.Compute/virtualMachines/vm0x1")
    nic = sim.rid("pkFleet", "Microsoft.Network/networkInterfaces/vm0x1-nic")
    lb = sim.rid("pkFleet", "Microsoft.Network/loadBalancers/lb0")
    sweep(config, apply=True)  # poolkeeper has seen (and owns nothing of) the operator-wired estate
    before = (strip(get(sim, nic)), strip(get(sim, lb)))
    with reconciler_for(config) as rec:
        answer = Maintenance(rec).drain(vm)
    assert answer["status"] == "drained"
    assert [e["method"] for e in answer["entries"]] == ["adminState"]
    pool = get(sim, lb)["properties"]["backendAddressPools"][0]
    states = {a["properties"]["networkInterfaceIPConfiguration"]["id"].split("/")[8]: a["properties"].get("adminState")
              for a in pool["properties"]["loadBalancerBackendAddresses"]}
    assert states == {"vm0x0-nic": None, "vm0x1-nic": "Down", "vm0x2-nic": None}
    assert DRAIN_TAG in get(sim, nic)["tags"]
    report = sweep(config, apply=True)  # every instance and the sweep respect the drain
    assert report.summary["writes"] == 0 and report.summary["drainedMembers"] == 1
    assert get(sim, lb)["properties"]["backendAddressPools"][0] == pool
    with reconciler_for(config) as rec:
        assert Maintenance(rec).restore(vm)["status"] == "restored"
    assert (strip(get(sim, nic)), strip(get(sim, lb))) == before


def test_drain_refuses_to_leave_a_pool_under_the_minimum(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = fleet(armsim_factory, lbs=1, vms=3, in_pool=True)
    config = fleet_config(sim.subscription_id, sim.info.arm_endpoint, lbs=1, limits={"minInRotation": 2})
    vm = [sim.rid("pkFleet", f"Microsoft.Compute/virtualMachines/vm0x{j}") for j in range(3)]
    with reconciler_for(config) as rec:
        m = Maintenance(rec)
        assert m.drain(vm[0])["status"] == "drained"
        sim.reset_log()
        with pytest.raises(MaintenanceRefused, match="fewer than limits.minInRotation 2"):
            m.drain(vm[1])
        assert [e for e in sim.requests_log() if e["method"] != "GET"] == [], "a refused drain writes nothing"
        assert m.restore(vm[0])["status"] == "restored"
        assert m.drain(vm[1])["status"] == "drained"


@pytest.mark.parametrize(("scenario", "method", "pools_while_drained"), [
    ("tutorial", "adminState", ["myBackEndPool"]),  # az 2.91 builds a Standard LB with a probed rule
    ("tutorial-basic", "membership", []),  # the tutorial's era: Basic, no admin state
])
def test_drain_and_restore_the_tutorials_vm_over_http(poolkeeper_factory: Callable[..., Any], scenario: str,
                                                      method: str, pools_while_drained: list[str]) -> None:
    pk = poolkeeper_factory(scenario=scenario)
    assert pk.post("sweep", dryRun="false").status_code == 200
    vm1 = pk.sim.rid("myTutorial8", "Microsoft.Compute/virtualMachines/myVM1")
    nic1 = pk.sim.rid("myTutorial8", "Microsoft.Network/networkInterfaces/myNic1")
    lb = pk.sim.rid("myTutorial8", "Microsoft.Network/loadBalancers/myLoadBalancer")
    before = (strip(get(pk.sim, nic1)), strip(get(pk.sim, lb)))
    dry = pk.post("drain", {"vmId": vm1}, dryRun="true")
    assert dry.status_code == 200 and dry.json()["status"] == "planned"
    assert (strip(get(pk.sim, nic1)), strip(get(pk.sim, lb))) == before, "a dry run changes nothing"
    answer = pk.post("drain", {"vmId": vm1})
    assert answer.status_code == 200, answer.text
    drained = answer.json()
    assert drained["status"] == "drained"
    assert [e["method"] for e in drained["entries"]] == [method]
    assert nic_wiring(pk, "myNic1") == (pools_while_drained, ["pk-myVM1-22"])  # NAT access stays for maintenance
    pk.flush_events()
    report = pk.post("sweep", dryRun="false").json()
    assert nic_wiring(pk, "myNic1") == (pools_while_drained, ["pk-myVM1-22"]), "the sweep respects the drain"
    assert report["summary"]["drainedMembers"] == 1 and report["summary"]["writes"] == 0
    page = requests.get(f"{pk.url}/api/report/latest.html", timeout=30).text
    assert "myNic1 (drained)" in page and page.count('class="node drained"') == 2  # the NIC and its VM
    assert pk.post("restore", {"vmId": vm1}).json()["status"] == "restored"
    assert (strip(get(pk.sim, nic1)), strip(get(pk.sim, lb))) == before
