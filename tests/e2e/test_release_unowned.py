"""Issue 9.1, end to end on the tutorial estate: the operator pooled myNic1..3 (``--lb-address-pools``), poolkeeper
gave them ``pk-`` NAT rules; deleting myVM2 releases its rule and port, and leaves the operator's pool membership."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import RG, Poolkeeper

pytestmark = pytest.mark.slow


def test_deleted_vm_on_operator_pooled_nic_loses_its_rule_and_port(reconciled: Poolkeeper) -> None:
    pk = reconciled
    nic2 = pk.operator.network.network_interfaces.get(RG, "myNic2").as_dict()
    assert "poolkeeper.binding" not in (nic2.get("tags") or {})  # pooled by the operator, not by poolkeeper
    pk.operator.compute.virtual_machines.begin_delete(RG, "myVM2").result()
    pk.flush_events()
    pk.flush_events()
    lb = pk.operator.network.load_balancers.get(RG, "myLoadBalancer").as_dict()
    rules = {r["name"]: r["properties"]["frontendPort"] for r in lb["properties"].get("inboundNatRules") or []}
    assert rules == {"pk-myVM1-22": 50001, "pk-myVM3-22": 50003}
    cfg = pk.operator.network.network_interfaces.get(RG, "myNic2").as_dict()["properties"]["ipConfigurations"][0]
    assert [p["id"].rsplit("/", 1)[-1] for p in cfg["properties"].get("loadBalancerBackendAddressPools") or []] \
        == ["myBackEndPool"]
    assert not cfg["properties"].get("loadBalancerInboundNatRules")
    # a dry run now plans nothing: converged
    plan = pk.post("reconcile", {}, dryRun="true").json()
    assert all(o["plan"]["empty"] for o in plan["outcomes"])
