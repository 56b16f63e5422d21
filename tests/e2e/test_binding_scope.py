"""Issue 9.8, end to end: ``POST /api/reconcile {"binding": "web"}`` when an orphaned ``pk-`` rule holds the port
the binding's first new rule reuses. The deletion carries no binding; it must stay in the scoped plan."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.conftest import RG, Poolkeeper

pytestmark = pytest.mark.slow


def test_binding_scoped_reconcile_deletes_the_orphan_whose_port_it_reuses(
        poolkeeper_factory: Callable[..., Poolkeeper]) -> None:
    pk = poolkeeper_factory()
    lbs = pk.operator.network.load_balancers
    body = lbs.get(RG, "myLoadBalancer").as_dict()
    frontend = body["properties"]["frontendIPConfigurations"][0]["id"]
    body["properties"].setdefault("inboundNatRules", []).append(
        {"name": "pk-gone-22", "properties": {"frontendIPConfiguration": {"id": frontend}, "protocol": "Tcp",
                                              "frontendPort": 50001, "backendPort": 22}})
    lbs.begin_create_or_update(RG, "myLoadBalancer", body).result()
    pk.flush_events()
    resp = pk.post("reconcile", {"binding": "web"})
    assert resp.status_code == 200, resp.text
    lb = lbs.get(RG, "myLoadBalancer").as_dict()
    rules = {r["name"]: r["properties"]["frontendPort"] for r in lb["properties"].get("inboundNatRules") or []}
    assert rules == {"pk-myVM1-22": 50001, "pk-myVM2-22": 50002, "pk-myVM3-22": 50003}
    assert all(o["rounds"] == 1 for o in resp.json()["outcomes"])
