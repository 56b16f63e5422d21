"""One seeded storm over the tutorial estate, and everything the invariants need to judge it afterwards.

Phases (every random choice comes from ``random.Random(seed)``; thread timing is the only other source of variety):

1. armsim with the tutorial estate, plus a look-alike resource group ``myTutorial80`` (same names; a prefix of the
   in-scope group's name is not a scope) built by the operator; ``python -m poolkeeper serve`` as a subprocess,
   subscribed to armsim's Event Grid with a second, recording webhook beside it; one reconcile wires myVM1–3.
2. Faults on: ARM answers 10% of requests 429 (half of them with no retry hint at all), 3% 5xx, 1% dropped
   connections; Event Grid duplicates, reorders, delays and batches. Concurrently: the operator creates VMs (NIC
   first, without pools, as in the tutorial), tags the load balancer and NICs and adds an unrelated NAT rule under
   If-Match, and creates and deletes VMs in the look-alike group.
3. The kill: NIC writes start failing (scripted 503s) so that the next load-balancer write of poolkeeper's is not
   yet followed by its NIC write; the moment armsim refuses poolkeeper's NIC PUT, the process is SIGKILLed, then
   restarted on the same port.
4. Concurrently again: VMs deleted (new ones and the tutorial's operator-pooled myVM3), more created, more edits.
5. Faults off, deliveries flushed, one compliance sweep (``POST /api/reconcile {}``, what the timer does), then
   every event the recorder received is replayed to poolkeeper's webhook.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from azure.identity import ManagedIdentityCredential

from armsim import Simulator
from armsim.eventgrid.testing import WebhookReceiver
from poolkeeper.clients import make_clients
from poolkeeper_local.eventgrid_setup import subscribe_webhook
from poolkeeper_local.localrun import POOLKEEPER_CLIENT_ID, tutorial_config
from tests.chaos.host import PoolkeeperProcess, serve_env
from tests.chaos.operator import Operator, retried

RG = "myTutorial8"
LOOK_ALIKE = "myTutorial80"
LB = "myLoadBalancer"
PORT_RANGE = (50001, 50099)
TIME_SCALE = 0.02


@dataclass(frozen=True)
class Plan:
    """The storm's inputs, all derived from the seed and the scale."""

    seed: int
    scale: int
    created_early: list[str]
    created_late: list[str]
    deleted: list[str]
    lb_tags: list[tuple[str, str]]
    nic_tags: list[tuple[str, str, str]]
    ops_rule: tuple[str, int]
    outside_created: list[str]
    outside_deleted: list[str]

    @classmethod
    def make(cls, seed: int, scale: int) -> Plan:
        rng = random.Random(seed)
        early = [f"chaos-{i:03d}" for i in range(1, 4 * scale + 1)]
        late = [f"chaos-{i:03d}" for i in range(4 * scale + 1, 6 * scale + 1)]
        deleted = [*sorted(rng.sample(early, max(1, len(early) // 2))), "myVM3"]
        nics = ["myNic1", "myNic2", "myNic3"]
        # each early VM's creator tags its NIC and the load balancer right away: that races poolkeeper's own
        # read-modify-writes of the same NIC and load balancer for that VM
        lb_tags = [(f"ops.seen-{n}", f"v{rng.randrange(1000)}") for n in early]
        lb_tags += [(f"ops.edit{i}", f"v{rng.randrange(1000)}") for i in range(2 * scale)]
        nic_tags = [(f"{n}-nic", "ops.owner", f"v{rng.randrange(1000)}") for n in early]
        nic_tags += [(rng.choice(nics), f"ops.nic{i}", f"v{rng.randrange(1000)}") for i in range(3 * scale)]
        return cls(
            seed=seed, scale=scale, created_early=early, created_late=late, deleted=deleted, lb_tags=lb_tags,
            nic_tags=nic_tags, ops_rule=("ops-admin-ssh", 60000 + rng.randrange(100)),
            outside_created=[f"out-{i:03d}" for i in range(1, scale + 2)], outside_deleted=["myVM2"],
        )

    def after_create(self, name: str) -> tuple[tuple[str, str], tuple[str, str, str]]:
        """The load-balancer tag and the NIC tag the creator of ``name`` adds right after creating it."""
        i = self.created_early.index(name)
        return self.lb_tags[i], self.nic_tags[i]

    def other_edits(self) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
        n = len(self.created_early)
        return self.lb_tags[n:], self.nic_tags[n:]


@dataclass
class Outcome:
    """What the invariants read: final state, the request log, samples taken during the storm, logs."""

    plan: Plan
    subscription_id: str
    poolkeeper_oid: str
    lb: dict[str, Any]
    nics: dict[str, dict[str, Any]]  # NIC name -> body (in scope)
    vms: dict[str, dict[str, Any]]  # VM name -> body (in scope)
    requests_log: list[dict[str, Any]]
    port_samples: dict[str, set[int]]  # pk- rule name -> every frontend port seen for it during the storm
    delivered_events: int
    replay_writes: list[dict[str, Any]]
    replay_answers: list[int]
    serve_log: str
    kills: int
    killed_between: bool
    notes: list[str] = field(default_factory=list)

    def pk_requests(self) -> list[dict[str, Any]]:
        return [e for e in self.requests_log if e.get("principal") == self.poolkeeper_oid]


BASE_FAULTS: list[dict[str, Any]] = [
    {"rate": 0.05, "status": 429},  # hint: retry-after-ms (time-scaled) as armsim sends by default
    {"rate": 0.05, "status": 429, "retryHint": False},  # no retry hint at all
    {"rate": 0.015, "status": 503},
    {"rate": 0.015, "status": 500},
    {"rate": 0.01, "status": "drop"},
]


def faults(seed: int, *extra: dict[str, Any]) -> dict[str, Any]:
    return {"seed": seed, "rules": [*extra, *BASE_FAULTS]}


class Storm:
    def __init__(self, seed: int, scale: int, workdir: Path) -> None:
        self.plan = Plan.make(seed, scale)
        self.workdir = workdir
        self.rng = random.Random(seed)
        self.samples: dict[str, set[int]] = {}
        self._stop_sampling = threading.Event()
        self.notes: list[str] = []

    # ------------------------------------------------------------------------------------------------ run
    def run(self) -> Outcome:
        sim = Simulator(scenario="tutorial", time_scale=TIME_SCALE, throttle=True)
        sim.start()
        assert sim.info is not None
        info = sim.info
        saved = {k: os.environ.get(k) for k in info.env()}
        os.environ.update(info.env())
        pk = PoolkeeperProcess(serve_env(info, tutorial_config(info, RG), POOLKEEPER_CLIENT_ID),
                               self.workdir / "poolkeeper.log")
        recorder = WebhookReceiver().start()
        operator_clients = make_clients(info.subscription_id, info.arm_endpoint, ManagedIdentityCredential())
        http = requests.Session()
        http.verify = info.ca_bundle
        try:
            return self._run(sim, info, pk, recorder, Operator(operator_clients, info.subscription_id, self.rng),
                             http)
        finally:
            self._stop_sampling.set()
            pk.stop()
            recorder.stop()
            operator_clients.close()
            sim.stop()
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v

    def _run(self, sim: Simulator, info: Any, pk: PoolkeeperProcess, recorder: WebhookReceiver, op: Operator,
             http: requests.Session) -> Outcome:
        plan = self.plan

        def control(method: str, name: str, body: Any = None) -> Any:
            resp = http.request(method, info.control_endpoint + name, json=body, timeout=120)
            resp.raise_for_status()
            return resp.json()

        pk_oid = control("GET", f"identity?client_id={POOLKEEPER_CLIENT_ID}")["oid"]
        pk.start()
        cred = ManagedIdentityCredential()
        # the second subscription's PUT of the shared system topic may meet the first's still in flight (409
        # AnotherOperationInProgress): the operator runs the command again
        retried("subscribe poolkeeper", lambda: subscribe_webhook(
            cred, info.arm_endpoint, info.subscription_id, RG, pk.webhook, verify=info.ca_bundle), self.rng)
        retried("subscribe the recorder", lambda: subscribe_webhook(
            cred, info.arm_endpoint, info.subscription_id, RG, recorder.url, name="recorder",
            verify=info.ca_bundle), self.rng)
        sim.call(lambda: sim.engine.ensure_resource_group(LOOK_ALIKE, "westus"))
        op.build_look_alike(LOOK_ALIKE, ["myVM1", "myVM2"])
        first = requests.post(f"{pk.base_url}/api/reconcile", json={}, timeout=300)
        assert first.status_code == 200, f"the initial reconcile failed: {first.status_code} {first.text[:2000]}"

        lb_id = op.rid(RG, f"Microsoft.Network/loadBalancers/{LB}")
        sampler = threading.Thread(target=self._sample, args=(sim, lb_id), daemon=True)
        sampler.start()
        control("POST", "faults", faults(plan.seed))
        control("POST", "eventgrid/chaos", {"seed": plan.seed, "delay_ms": [0, 150], "duplicate_rate": 0.2,
                                            "reorder": True, "batch_size": 4, "concurrency": 4})

        # --- phase 2: creates (each followed at once by the operator's edits of that NIC and the LB), other edits,
        #     the look-alike group
        lb_edits, nic_edits = plan.other_edits()
        half_lb, half_nic = len(lb_edits) // 2, len(nic_edits) // 2
        with cf.ThreadPoolExecutor(max_workers=5) as pool:
            jobs = [pool.submit(self._create_then_edit, op, name) for name in plan.created_early]
            jobs += [pool.submit(self._edits, op, lb_edits[:half_lb], nic_edits[:half_nic], early=True)]
            jobs += [pool.submit(op.create_vm, LOOK_ALIKE, name, f"{name}-nic") for name in plan.outside_created]
            for job in jobs:
                job.result()

        # --- phase 3: SIGKILL between poolkeeper's load-balancer write and its NIC write, then restart
        killed_between = self._kill_between(control, pk, op, pk_oid)

        # --- phase 4: deletes, late creates, the rest of the edits
        with cf.ThreadPoolExecutor(max_workers=4) as pool:
            jobs = [pool.submit(op.delete_vm, RG, name) for name in plan.deleted]
            jobs += [pool.submit(op.create_vm, RG, name, f"{name}-nic") for name in plan.created_late]
            jobs += [pool.submit(self._edits, op, lb_edits[half_lb:], nic_edits[half_nic:], early=False)]
            jobs += [pool.submit(op.delete_vm, LOOK_ALIKE, name) for name in plan.outside_deleted]
            for job in jobs:
                job.result()

        # --- phase 5: calm, converge (the compliance sweep), judge, replay
        control("POST", "faults", {})
        control("POST", "eventgrid/chaos", {})
        self._flush(control)
        sweep = requests.post(f"{pk.base_url}/api/reconcile", json={}, timeout=300)
        self.notes.append(f"compliance sweep answered {sweep.status_code}")
        self._flush(control)
        self._quiet(control, pk_oid)  # a run still in flight (an event beside the sweep) is not the replay's doing
        self._stop_sampling.set()
        self._sample_once(sim, lb_id)

        lb, nics, vms = self._final_state(op)
        marker = len(control("GET", "requests"))
        events = recorder.events()
        answers = self._replay(pk, events)
        after = control("GET", f"requests?since={marker}")
        replay_writes = [e for e in after if e.get("principal") == pk_oid and e["kind"] != "read"]
        return Outcome(plan=plan, subscription_id=info.subscription_id, poolkeeper_oid=pk_oid, lb=lb, nics=nics,
                       vms=vms, requests_log=control("GET", "requests"), port_samples=self.samples,
                       delivered_events=len(events), replay_writes=replay_writes, replay_answers=answers,
                       serve_log=pk.log_text(), kills=pk.kills, killed_between=killed_between, notes=self.notes)

    # ------------------------------------------------------------------------------------------------ pieces
    def _create_then_edit(self, op: Operator, name: str) -> None:
        op.create_vm(RG, name, f"{name}-nic")
        (lb_key, lb_value), (nic, nic_key, nic_value) = self.plan.after_create(name)
        op.tag_nic(RG, nic, nic_key, nic_value)
        op.tag_load_balancer(RG, LB, lb_key, lb_value)

    def _edits(self, op: Operator, lb_tags: list[tuple[str, str]], nic_tags: list[tuple[str, str, str]], *,
               early: bool) -> None:
        for key, value in lb_tags:
            op.tag_load_balancer(RG, LB, key, value)
        if early:
            op.add_nat_rule(RG, LB, *self.plan.ops_rule)
        for nic, key, value in nic_tags:
            op.tag_nic(RG, nic, key, value)

    def _kill_between(self, control: Any, pk: PoolkeeperProcess, op: Operator, pk_oid: str) -> bool:
        """Script NIC writes to fail, make poolkeeper wire a new VM, and SIGKILL it when its NIC PUT is refused.

        Returns whether, at the kill, poolkeeper had written the load balancer for that VM but not its NIC.
        """
        name = "chaos-kill"
        op.create_nic(RG, f"{name}-nic")
        self._flush(control)  # let the storm's deliveries settle: the next LB+NIC pair of writes is this VM's
        # only the scripted NIC failures while the kill is aimed: a random drop of the LB write would move the aim
        control("POST", "faults", {"seed": self.plan.seed + 1, "rules": [
            {"kind": "write", "path_contains": "/networkInterfaces/", "sequence": [503] * 200, "retry_after": 0.5}]})
        # the marker after the faults: a NIC write of an earlier run still in flight when the faults went in (a busy
        # machine) is not this VM's; and only this VM's NIC counts, whatever else is still being wired
        marker = len(control("GET", "requests"))
        own_nic = f"/networkinterfaces/{name}-nic".lower()
        creator = threading.Thread(target=op.create_vm, args=(RG, name, f"{name}-nic"), daemon=True)
        creator.start()
        deadline = time.monotonic() + 120
        between = False
        while time.monotonic() < deadline:
            mine = [e for e in control("GET", f"requests?since={marker}")
                    if e.get("principal") == pk_oid and e["kind"] != "read"]
            lb_written = [i for i, e in enumerate(mine) if "/loadbalancers/" in e["path"].lower() and e["status"] < 300]
            nic_refused = [i for i, e in enumerate(mine) if own_nic in e["path"].lower() and e["status"] == 503]
            if lb_written and nic_refused and nic_refused[-1] > lb_written[0]:
                pk.kill()
                nic_written = [e for e in mine if own_nic in e["path"].lower() and e["status"] < 300]
                between = not nic_written
                break
            time.sleep(0.02)
        else:
            self.notes.append("the kill point was never reached (no LB write followed by a refused NIC write in 120 s)")
        creator.join(timeout=120)
        control("POST", "faults", faults(self.plan.seed + 2))
        if pk.proc is not None and pk.proc.poll() is None:
            pk.kill()
        pk.start()
        return between

    def _quiet(self, control: Any, pk_oid: str, *, quiet_s: float = 2.0, timeout_s: float = 120.0) -> None:
        """Wait until poolkeeper has sent no request for ``quiet_s``: every run it had in flight has finished."""
        deadline = time.monotonic() + timeout_s
        seen, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = sum(1 for e in control("GET", "requests") if e.get("principal") == pk_oid)
            if count != seen:
                seen, since = count, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return
            time.sleep(0.25)
        self.notes.append(f"poolkeeper was still sending requests {timeout_s:.0f} s after the sweep")

    def _flush(self, control: Any) -> None:
        for _ in range(5):
            try:
                answer = control("POST", "eventgrid/flush", {"timeout": 60})
                if answer.get("empty", True):
                    return
            except requests.HTTPError:
                continue

    def _sample(self, sim: Simulator, lb_id: str) -> None:
        while not self._stop_sampling.wait(0.1):
            self._sample_once(sim, lb_id)

    def _sample_once(self, sim: Simulator, lb_id: str) -> None:
        def read() -> str:
            record = sim.engine.store.get(lb_id)
            return json.dumps(record.body if record is not None else {})

        body = json.loads(sim.call(read))
        for rule in (body.get("properties") or {}).get("inboundNatRules") or []:
            if str(rule.get("name", "")).startswith("pk-"):
                port = (rule.get("properties") or {}).get("frontendPort")
                if port is not None:
                    self.samples.setdefault(rule["name"], set()).add(int(port))

    def _final_state(self, op: Operator) -> tuple[dict[str, Any], dict[str, dict[str, Any]],
                                                  dict[str, dict[str, Any]]]:
        lb = op.c.network.load_balancers.get(RG, LB).as_dict()
        nics = {str(n.name): n.as_dict() for n in op.c.network.network_interfaces.list(RG)}
        vms = {str(v.name): v.as_dict() for v in op.c.compute.virtual_machines.list(RG)}
        return lb, nics, vms

    def _replay(self, pk: PoolkeeperProcess, events: list[dict[str, Any]]) -> list[int]:
        """Every delivered event again, one notification each, as Event Grid would redeliver it."""
        answers = []
        with requests.Session() as s:
            for event in events:
                resp = s.post(pk.webhook, json=[event], headers={"aeg-event-type": "Notification"}, timeout=120)
                answers.append(resp.status_code)
        return answers
