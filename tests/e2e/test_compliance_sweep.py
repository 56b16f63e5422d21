"""The scheduled sweep repairs drift that no event announced (or that someone undid by hand)."""

from __future__ import annotations

from collections.abc import Callable

from azure.functions.timer import TimerRequest

import function_app
from poolkeeper_local.host import indexed_functions
from tests.e2e.conftest import RG, Poolkeeper
from tests.e2e.test_event_driven import nat_rules, nic_wiring


def run_timer(name: str) -> None:
    fn = next(f for f in indexed_functions(function_app.app) if f.get_function_name() == name)
    binding = fn.get_trigger().get_dict_repr()["name"]
    fn.get_user_function()(**{binding: TimerRequest(past_due=False)})


def test_sweep_wires_everything_and_repairs_hand_made_drift(poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    run_timer("compliance_sweep")
    assert {"pk-myVM1-22", "pk-myVM2-22", "pk-myVM3-22"} <= set(nat_rules(pk))
    # someone takes myNic2 out of its pool and off its NAT rule by hand (as the tutorial's maintenance step does)
    nics = pk.operator.network.network_interfaces
    body = nics.get(RG, "myNic2").as_dict()
    cfg = body["properties"]["ipConfigurations"][0]["properties"]
    cfg["loadBalancerBackendAddressPools"] = []
    cfg["loadBalancerInboundNatRules"] = []
    nics.begin_create_or_update(RG, "myNic2", body).result()
    pk.flush_events()  # the operator's NIC write event also triggers a reconcile; the sweep must converge regardless
    run_timer("compliance_sweep")
    assert nic_wiring(pk, "myNic2") == (["myBackEndPool"], ["pk-myVM2-22"])
    assert nat_rules(pk)["pk-myVM2-22"]["frontendPort"] == 50002  # the VM kept its port
    pk.sim.reset_log()
    run_timer("compliance_sweep")
    assert pk.writes() == [], "a sweep over a compliant estate writes nothing"
