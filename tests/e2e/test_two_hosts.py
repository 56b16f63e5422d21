"""Two poolkeeper hosts fed by one Event Grid subscription (issue 13, "scale past one host"), on one armsim.

Flex Consumption spreads one subscription's deliveries over its instances; here a webhook hands each delivery to one
of two independent ``Reconciler`` s (each its own clients, pacing budget and coalescing), alternately, and both
answer concurrently. A burst of VMs, while the operator adds a NAT rule of their own to the load balancer: nothing
is lost (every VM wired once, ports distinct, the operator's rule kept) and a sweep afterwards has nothing to do.
The hosts' lost ETag races (412) and busy answers (409) are counted and printed, not asserted: they are the price
of two writers, and ETags make them harmless. Real SDKs over HTTPS; no mocks.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import threading
from collections.abc import Callable
from typing import Any

from azure.identity import ManagedIdentityCredential

from armsim.eventgrid.testing import Received, WebhookReceiver
from poolkeeper.config import load_config
from poolkeeper.correlation import is_own_correlation_id
from poolkeeper.reconciler import Reconciler
from poolkeeper.service import handle_resource_event
from poolkeeper_local.eventgrid_setup import subscribe_webhook
from poolkeeper_local.localrun import tutorial_config
from tests.conftest import SimHandle
from tests.e2e.conftest import RG, nic_body, vm_body

VMS = 10
LB_PATH = "Microsoft.Network/loadBalancers/myLoadBalancer"


def test_two_hosts_on_one_subscription_lose_nothing_and_converge(armsim_factory: Callable[..., SimHandle]) -> None:
    sim = armsim_factory(scenario="tutorial")
    config = load_config(json.dumps(tutorial_config(sim.info)))
    hosts = [Reconciler(config), Reconciler(config)]
    served = [0, 0]
    lock = threading.Lock()

    def deliver(request: Received, index: int) -> tuple[int, Any] | None:
        if request.kind != "Notification":
            return None  # the subscription handshake
        with lock:
            served[index % 2] += 1
        for event in request.events():
            handle_resource_event(hosts[index % 2], event)
        return 200, {}

    hook = WebhookReceiver(respond=deliver).start()
    try:
        hosts[0].reconcile_all(dry_run=False)  # the tutorial's three VMs wired first
        subscribe_webhook(ManagedIdentityCredential(), sim.info.arm_endpoint, sim.subscription_id, RG, hook.url,
                          name="two-hosts", verify=sim.info.ca_bundle)
        sim.reset_log()
        names = [f"burst{i}" for i in range(VMS)]

        def create(name: str) -> None:
            sim.arm("PUT", sim.rid(RG, f"Microsoft.Network/networkInterfaces/{name}-nic"), nic_body(sim, name))
            sim.arm("PUT", sim.rid(RG, f"Microsoft.Compute/virtualMachines/{name}"), vm_body(sim, name, f"{name}-nic"))

        with cf.ThreadPoolExecutor(8) as pool:
            jobs = [pool.submit(create, n) for n in names]
            jobs.append(pool.submit(_operator_adds_a_rule, sim))
            for job in jobs:
                job.result()
        sim.control("POST", "eventgrid/flush", {"timeout": 120})
        (sweep,) = hosts[1].reconcile_all(dry_run=False)
    finally:
        hook.stop()
        for host in hosts:
            host.close()

    assert served[0] > 0 and served[1] > 0  # both hosts took deliveries
    assert sweep.plan.is_empty  # converged: the sweep has nothing left to do
    lb = sim.arm("GET", sim.rid(RG, LB_PATH)).json()
    rules = {r["name"]: r["properties"] for r in lb["properties"]["inboundNatRules"]}
    assert "operator-ssh" in rules  # the operator's concurrent write survived every read-modify-write
    ports = [p["frontendPort"] for p in rules.values()]
    assert len(ports) == len(set(ports))
    for name in names:
        nic = sim.arm("GET", sim.rid(RG, f"Microsoft.Network/networkInterfaces/{name}-nic")).json()
        ipc = nic["properties"]["ipConfigurations"][0]["properties"]
        assert [p["id"].rsplit("/", 1)[-1] for p in ipc.get("loadBalancerBackendAddressPools", [])] == ["myBackEndPool"]
        assert [r["id"].rsplit("/", 1)[-1] for r in ipc.get("loadBalancerInboundNatRules", [])] == [f"pk-{name}-22"]
    mine = [e for e in sim.requests_log() if is_own_correlation_id(e["correlation_id"])]
    writes = [e for e in mine if e["kind"] != "read" and e["status"] < 300]
    conflicts = {status: sum(1 for e in mine if e["status"] == status) for status in (409, 412, 429)}
    print(f"two hosts, {VMS} VMs: deliveries {served}, {len(writes)} writes, conflicts {conflicts}")


def _operator_adds_a_rule(sim: SimHandle) -> None:
    """The operator's own read-modify-write of the load balancer, retried on a lost ETag race as az would be."""
    for _ in range(20):
        resp = sim.arm("GET", sim.rid(RG, LB_PATH))
        lb = resp.json()
        frontend = lb["properties"]["frontendIPConfigurations"][0]["id"]
        lb["properties"]["inboundNatRules"].append({"name": "operator-ssh", "properties": {
            "frontendIPConfiguration": {"id": frontend}, "protocol": "Tcp", "frontendPort": 2222,
            "backendPort": 22}})
        put = sim.arm("PUT", sim.rid(RG, LB_PATH), lb, headers={"If-Match": resp.headers["ETag"]})
        if put.status_code < 300:
            return
    raise AssertionError("the operator could not write the load balancer in 20 attempts")
