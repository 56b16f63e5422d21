"""Issue 9.10: poolkeeper recognises its own writes by correlation id, not by identity.

The operator here creates VMs with the very identity poolkeeper runs as (a local ``az login`` run, a shared
identity). Their VM must still be wired; poolkeeper's own writes must still be ignored (no feedback loop).
"""

from __future__ import annotations

import pytest
import requests
from azure.identity import ManagedIdentityCredential

from poolkeeper.clients import make_clients
from poolkeeper.correlation import is_own_correlation_id
from poolkeeper_local.localrun import POOLKEEPER_CLIENT_ID
from tests.e2e.conftest import RG, Poolkeeper, nic_body, vm_body

pytestmark = pytest.mark.slow


def test_operator_sharing_poolkeepers_identity_gets_vm_wired_and_own_writes_stay_ignored(
        reconciled: Poolkeeper) -> None:
    pk = reconciled
    shared = make_clients(pk.sim.subscription_id, pk.run.info.arm_endpoint,
                          ManagedIdentityCredential(client_id=POOLKEEPER_CLIENT_ID))
    try:
        pk.sim.reset_log()
        shared.network.network_interfaces.begin_create_or_update(RG, "myNic4", nic_body(pk.sim, "myNic4")).result()
        shared.compute.virtual_machines.begin_create_or_update(RG, "myVM4", vm_body(pk.sim, "myVM4", "myNic4")).result()
        pk.flush_events()
        pk.flush_events()
        oid = pk.poolkeeper_oid()
        writes = pk.writes()
        assert writes and all(w.get("principal") == oid for w in writes)  # one identity for both
        nic = pk.operator.network.network_interfaces.get(RG, "myNic4").as_dict()
        cfg = nic["properties"]["ipConfigurations"][0]["properties"]
        assert [p["id"].rsplit("/", 1)[-1] for p in cfg.get("loadBalancerBackendAddressPools") or []] \
            == ["myBackEndPool"]
        assert [r["id"].rsplit("/", 1)[-1] for r in cfg.get("loadBalancerInboundNatRules") or []] == ["pk-myVM4-22"]
        # poolkeeper's writes carried its correlation ids, and the events echo them
        own = [e for e in pk.recorder.events() if is_own_correlation_id((e.get("data") or {}).get("correlationId"))]
        assert own, "no event of poolkeeper's own writes was delivered"
        # replaying those events to poolkeeper costs no ARM request at all: they are ignored before any read
        pk.sim.reset_log()
        url = pk.host.eventgrid_url("on_resource_event")
        resp = requests.post(url, json=own, headers={"aeg-event-type": "Notification"}, timeout=60)
        assert resp.status_code == 200, resp.text
        assert pk.sim.requests_log() == []
    finally:
        shared.close()
