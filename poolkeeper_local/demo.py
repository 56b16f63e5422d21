"""``python -m poolkeeper demo`` (``make demo``): poolkeeper at work on armsim, end to end, in under a minute.

Act 1 (seed 003's tutorial estate): poolkeeper serves its Functions app locally and is subscribed to armsim's Event
Grid; it gives the three tutorial VMs their NAT rules (50001–50003 → 22, as seed 000 numbers them); an operator
creates ``myVM4`` on ``myNic4`` and forgets the backend pool — poolkeeper wires it within seconds (pool + NAT rule
50004 → 22); the VM is deleted and poolkeeper releases what it held.
Act 2 (seed 001's scale set): migrate the retiring NAT pool ``MyNatPool`` to an inbound NAT rule V2, step by step.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import Any, TextIO

from azure.mgmt.compute.models import VirtualMachine
from azure.mgmt.network.models import NetworkInterface

from armsim import Simulator
from armsim.waiting import wait_until
from poolkeeper.clients import ArmClients
from poolkeeper_local.localrun import LocalRun

RG = "myTutorial8"


class Narrator:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.t0 = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.t0:5.1f}s] {text}", file=self.out, flush=True)

    def act(self, title: str) -> None:
        print(f"\n=== {title} ===", file=self.out, flush=True)


def _nat_rules_by_nic(clients: ArmClients) -> dict[str, tuple[str, int]]:
    lb = clients.network.load_balancers.get(RG, "myLoadBalancer").as_dict()
    out: dict[str, tuple[str, int]] = {}
    for rule in (lb.get("properties") or {}).get("inboundNatRules") or []:
        p = rule.get("properties") or {}
        backend = (p.get("backendIPConfiguration") or {}).get("id", "")
        nic = backend.split("/networkInterfaces/")[1].split("/")[0] if "/networkInterfaces/" in backend else "-"
        out[nic.lower()] = (rule["name"], int(p.get("frontendPort") or 0))
    return out


def _nic_state(clients: ArmClients, nic: str) -> tuple[bool, list[str]]:
    body = clients.network.network_interfaces.get(RG, nic).as_dict()
    cfg = ((body.get("properties") or {}).get("ipConfigurations") or [{}])[0].get("properties") or {}
    in_pool = any(p["id"].lower().endswith("/backendaddresspools/mybackendpool")
                  for p in cfg.get("loadBalancerBackendAddressPools") or [])
    rules = [r["id"].rsplit("/", 1)[-1] for r in cfg.get("loadBalancerInboundNatRules") or []]
    return in_pool, rules


def run_demo(time_scale: float = 0.1, out: TextIO = sys.stdout) -> int:
    n = Narrator(out)
    with LocalRun(scenario="tutorial", time_scale=time_scale, log_level="WARNING") as run:
        info = run.info
        rg_id = f"/subscriptions/{info.subscription_id}/resourceGroups/{RG}"
        n.act("Act 1 — the tutorial estate (seeds 003 and 000)")
        n.say(f"armsim is up at {info.arm_endpoint} with the tutorial estate: myLoadBalancer, myBackEndPool, "
              "myVM1..3 on myNic1..3 in myAvailabilitySet")
        host = run.host
        n.say(f"poolkeeper serve is listening at {host.base_url} ({', '.join(host.function_names())})")
        n.say("subscribed poolkeeper's Event Grid webhook to the subscription's ARM events (handshake passed)")
        ops = run.operator
        http = run.http
        resp = run.reconcile().json()
        changes = [c for o in resp["outcomes"] for c in o["plan"]["changes"]]
        n.say(f"POST /api/reconcile: {len(changes)} changes applied to wire the existing VMs:")
        for c in changes:
            print(f"          {c['description']}", file=out)
        rules = _nat_rules_by_nic(ops)
        for nic in ("mynic1", "mynic2", "mynic3"):
            name, port = rules.get(nic, ("-", 0))
            n.say(f"  {nic}: NAT rule {name} frontend port {port} -> 22")

        subnet = f"{rg_id}/providers/Microsoft.Network/virtualNetworks/myVnet/subnets/mySubnet"
        nsg = f"{rg_id}/providers/Microsoft.Network/networkSecurityGroups/myNetworkSecurityGroup"
        ipcfg = ops.network.network_interfaces.get(RG, "myNic1").as_dict()["properties"]["ipConfigurations"][0]
        n.say("operator: az network nic create --name myNic4 (forgetting --lb-address-pools) and az vm create "
              "--name myVM4 --availability-set myAvailabilitySet --nics myNic4")
        ops.network.network_interfaces.begin_create_or_update(RG, "myNic4", NetworkInterface({
            "location": "westus",
            "properties": {
                "ipConfigurations": [{"name": ipcfg["name"], "properties": {
                    "subnet": {"id": subnet}, "privateIPAllocationMethod": "Dynamic", "primary": True}}],
                "networkSecurityGroup": {"id": nsg},
            },
        })).result()
        created = time.monotonic()
        ops.compute.virtual_machines.begin_create_or_update(RG, "myVM4", VirtualMachine(_vm_body(rg_id))).result()
        n.say("myVM4 is running; waiting for poolkeeper to react to the event …")
        wired = wait_until(lambda: _nic_state(ops, "myNic4")[0] and bool(_nic_state(ops, "myNic4")[1]), timeout=30)
        in_pool, nic_rules = _nic_state(ops, "myNic4")
        rules = _nat_rules_by_nic(ops)
        port4 = rules.get("mynic4", ("-", 0))[1]
        n.say(f"myNic4 in myBackEndPool: {in_pool}; NAT rules: {nic_rules} (frontend port {port4} -> 22) — "
              f"{time.monotonic() - created:.1f}s after `az vm create` was issued" if wired else
              "poolkeeper did not wire myNic4 in time (see the log above)")

        n.say("operator: az vm delete --name myVM4 (the NIC stays, as in Azure)")
        ops.compute.virtual_machines.begin_delete(RG, "myVM4").result()
        released = wait_until(lambda: not _nic_state(ops, "myNic4")[0] and not _nic_state(ops, "myNic4")[1], timeout=30)
        still = "mynic4" in _nat_rules_by_nic(ops)
        n.say(f"myNic4 left myBackEndPool and its NAT rule was deleted: {released and not still}")
        counters = http.get(info.control_endpoint + "counters").json()
        eg = http.get(info.control_endpoint + "eventgrid/stats").json()
        ok_act1 = bool(wired and released and not still and port4 == 50004)
        table = [("VM", "NIC", "NAT rule", "frontend port")]
        final_rules = _nat_rules_by_nic(ops)
        for i in range(1, 5):
            name, port = final_rules.get(f"mynic{i}", ("(released)" if i == 4 else "-", 0))
            table.append((f"myVM{i}" + (" (deleted)" if i == 4 else ""), f"myNic{i}", name,
                          str(port) if port else "-"))
        n.act("Summary")
        _print_table(table, out)
        print(f"ARM requests served by armsim: {counters.get('requests.read', 0)} reads, "
              f"{counters.get('arm_writes', 0)} successful writes; events delivered: "
              f"{eg.get('delivered', '?')}", file=out)
    ok_act2 = _act_two(n, out, time_scale)
    verdict = "demo complete" if ok_act1 and ok_act2 else "demo finished WITH PROBLEMS (see above)"
    print(f"\n{verdict} in {time.monotonic() - n.t0:.1f}s", file=out)
    return 0 if ok_act1 and ok_act2 else 1


def _act_two(n: Narrator, out: TextIO, time_scale: float) -> bool:
    try:
        from poolkeeper_local.demo_act import run_natpool_act
    except ImportError:
        n.say("(act 2, the NAT pool migration, is not available in this build)")
        return True
    n.act("Act 2 — retiring the scale set's NAT pool (seed 001): migrate MyNatPool to an inbound NAT rule V2")
    with Simulator(scenario="vmss-natpool", time_scale=time_scale, throttle=True) as sim:
        assert sim.info is not None
        os.environ.update(sim.info.env())
        summary = run_natpool_act(sim.info, out)
    return summary.get("status") == "succeeded" and not summary.get("error")


def _vm_body(rg_id: str) -> dict[str, Any]:
    return {
        "location": "westus",
        "properties": {
            "hardwareProfile": {"vmSize": "Standard_B1s"},
            "availabilitySet": {"id": f"{rg_id}/providers/Microsoft.Compute/availabilitySets/myAvailabilitySet"},
            "storageProfile": {"imageReference": {"publisher": "Canonical", "offer": "UbuntuServer",
                                                  "sku": "14.04.4-LTS", "version": "latest"}},
            "osProfile": {"computerName": "myVM4", "adminUsername": "azureuser",
                          "linuxConfiguration": {"disablePasswordAuthentication": True}},
            "networkProfile": {"networkInterfaces": [{
                "id": f"{rg_id}/providers/Microsoft.Network/networkInterfaces/myNic4",
                "properties": {"primary": True}}]},
        },
    }


def _print_table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for j, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)), file=out)
        if j == 0:
            print("  " + "  ".join("-" * w for w in widths), file=out)
