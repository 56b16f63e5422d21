"""The named invariants of the chaos storm (see storm.py), one test each, judged on Azure's state as armsim holds it
and on armsim's request log. Every message starts with the seed and the command that re-runs the storm."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from tests.chaos.conftest import rerun_hint
from tests.chaos.storm import LOOK_ALIKE, PORT_RANGE, Outcome

POOL = "myBackEndPool"
AVSET = "myavailabilityset"
BINDING_TAG = "poolkeeper.binding"


def _props(body: dict[str, Any] | None) -> dict[str, Any]:
    return (body or {}).get("properties") or {}


def _name(resource_id: str) -> str:
    return resource_id.rstrip("/").rsplit("/", 1)[-1]


def _nat_rules(storm: Outcome) -> list[dict[str, Any]]:
    return _props(storm.lb).get("inboundNatRules") or []


def _ipconfig_ids(nic: dict[str, Any]) -> set[str]:
    return {str(c["id"]).lower() for c in _props(nic).get("ipConfigurations") or []}


def _nic_of(storm: Outcome, vm: dict[str, Any]) -> dict[str, Any]:
    ref = (_props(vm).get("networkProfile") or {}).get("networkInterfaces") or []
    return storm.nics[_name(ref[0]["id"])]


def _bound_vms(storm: Outcome) -> dict[str, dict[str, Any]]:
    """VMs the binding ``web`` matches: in myAvailabilitySet, not opted out."""
    out = {}
    for name, vm in storm.vms.items():
        avset = str((_props(vm).get("availabilitySet") or {}).get("id", "")).lower()
        if avset.endswith(f"/{AVSET}") and (vm.get("tags") or {}).get("poolkeeper.ignore") != "true":
            out[name] = vm
    return out


def _pk_rules_on(storm: Outcome, nic: dict[str, Any]) -> list[str]:
    ipcs = _ipconfig_ids(nic)
    return [r["name"] for r in _nat_rules(storm) if r["name"].startswith("pk-")
            and str((_props(r).get("backendIPConfiguration") or {}).get("id", "")).lower() in ipcs]


def test_every_bound_vm_is_in_its_pool_exactly_once_with_exactly_one_rule(storm: Outcome) -> None:
    bound = _bound_vms(storm)
    expected = {"myVM1", "myVM2"} | set(storm.plan.created_early + storm.plan.created_late) - set(storm.plan.deleted)
    assert expected <= set(bound), f"{rerun_hint()} VMs missing from the estate: {sorted(expected - set(bound))}"
    wrong = {}
    for name, vm in sorted(bound.items()):
        nic = _nic_of(storm, vm)
        pools = [_name(p["id"]) for c in _props(nic).get("ipConfigurations") or []
                 for p in _props(c).get("loadBalancerBackendAddressPools") or []]
        nic_rules = [_name(r["id"]) for c in _props(nic).get("ipConfigurations") or []
                     for r in _props(c).get("loadBalancerInboundNatRules") or [] if _name(r["id"]).startswith("pk-")]
        lb_rules = _pk_rules_on(storm, nic)
        if pools.count(POOL) != 1 or nic_rules != [f"pk-{name}-22"] or lb_rules != [f"pk-{name}-22"]:
            wrong[name] = {"pools": pools, "nicRules": nic_rules, "lbRulesOnNic": lb_rules}
    assert not wrong, (f"{rerun_hint()} every bound VM must be in {POOL} exactly once with exactly one pk- rule; "
                       f"these are not: {wrong}")


def test_ports_are_unique_per_frontend_and_protocol_and_inside_the_range(storm: Outcome) -> None:
    seen: dict[tuple[str, str, int], list[str]] = defaultdict(list)
    outside = {}
    for rule in _nat_rules(storm):
        p = _props(rule)
        frontend = str((p.get("frontendIPConfiguration") or {}).get("id", "")).lower()
        port = p.get("frontendPort")
        if port is None:
            continue
        seen[(frontend, str(p.get("protocol", "")).lower(), int(port))].append(rule["name"])
        if rule["name"].startswith("pk-") and not PORT_RANGE[0] <= int(port) <= PORT_RANGE[1]:
            outside[rule["name"]] = port
    duplicates = {f"{k[1]}/{k[2]}": v for k, v in seen.items() if len(v) > 1}
    assert not duplicates, f"{rerun_hint()} frontend ports used twice on one frontend/protocol: {duplicates}"
    assert not outside, f"{rerun_hint()} pk- rules outside the range {PORT_RANGE}: {outside}"


def test_ports_are_stable_for_life(storm: Outcome) -> None:
    moved = {rule: sorted(ports) for rule, ports in storm.port_samples.items() if len(ports) > 1}
    assert storm.port_samples, f"{rerun_hint()} no pk- rule was ever sampled: the storm did not run"
    assert not moved, f"{rerun_hint()} a VM's NAT rule changed its frontend port during the storm: {moved}"


def test_every_external_edit_is_present(storm: Outcome) -> None:
    tags = storm.lb.get("tags") or {}
    missing = [f"load balancer tag {k}={v}" for k, v in storm.plan.lb_tags if tags.get(k) != v]
    rule_name, port = storm.plan.ops_rule
    rule = next((r for r in _nat_rules(storm) if r["name"] == rule_name), None)
    if rule is None or _props(rule).get("frontendPort") != port:
        missing.append(f"NAT rule {rule_name} on port {port}")
    for nic, key, value in storm.plan.nic_tags:
        if (storm.nics.get(nic, {}).get("tags") or {}).get(key) != value:
            missing.append(f"NIC {nic} tag {key}={value}")
    assert not missing, f"{rerun_hint()} operator edits made under If-Match were lost: {missing}"


def test_zero_requests_into_the_out_of_scope_group(storm: Outcome) -> None:
    fragment = f"/resourcegroups/{LOOK_ALIKE.lower()}/"
    operator = [e for e in storm.requests_log if fragment in e["path"].lower() + "/"
                and e.get("principal") != storm.poolkeeper_oid]
    assert operator, f"{rerun_hint()} the look-alike group saw no activity at all: the check would prove nothing"
    touched = [f"{e['method']} {e['path']} -> {e['status']}" for e in storm.pk_requests()
               if fragment in e["path"].lower() + "/"]
    assert not touched, f"{rerun_hint()} poolkeeper sent requests into out-of-scope {LOOK_ALIKE}: {touched[:10]}"


def test_deleted_vms_rules_and_ports_are_released(storm: Outcome) -> None:
    leaks = {}
    for name in storm.plan.deleted:
        assert name not in storm.vms, f"{rerun_hint()} {name} was not deleted by the operator"
        nic = storm.nics.get("myNic3" if name == "myVM3" else f"{name}-nic")
        rules = [r["name"] for r in _nat_rules(storm) if r["name"].lower() == f"pk-{name}-22".lower()]
        rules += _pk_rules_on(storm, nic) if nic else []
        pools = []
        if nic is not None and (nic.get("tags") or {}).get(BINDING_TAG):  # poolkeeper put it in the pool
            pools = [_name(p["id"]) for c in _props(nic).get("ipConfigurations") or []
                     for p in _props(c).get("loadBalancerBackendAddressPools") or []]
        if rules or pools:
            leaks[name] = {"rules": sorted(set(rules)), "poolsPoolkeeperJoined": pools}
    assert not leaks, f"{rerun_hint()} deleted VMs still hold rules/ports or pool places: {leaks}"


def test_replaying_every_delivered_event_makes_zero_writes(storm: Outcome) -> None:
    assert storm.delivered_events > 0, f"{rerun_hint()} no event was delivered: the check would prove nothing"
    refused = [s for s in storm.replay_answers if s != 200]
    assert not refused, f"{rerun_hint()} the webhook refused replayed events: {refused[:10]}"
    writes = [f"{e['method']} {e['path']} -> {e['status']}" for e in storm.replay_writes]
    assert not writes, (f"{rerun_hint()} replaying {storm.delivered_events} delivered events after convergence "
                        f"made {len(writes)} writes: {writes[:10]}")


def test_no_traceback_in_the_log(storm: Outcome) -> None:
    """A raw traceback (an exception nobody caught), or an ERROR/CRITICAL JSON line: poolkeeper's JSON formatter keeps
    only the last line of a logged exception, and a refusal is a WARNING, so an error line is an unexpected failure."""
    hits = []
    for i, line in enumerate(storm.serve_log.splitlines()):
        if "Traceback" in line:
            hits.append(i)
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and str(record.get("level", "")).lower() in ("error", "critical"):
            hits.append(i)
    lines = storm.serve_log.splitlines()
    context = "\n".join(lines[hits[0]:hits[0] + 30]) if hits else ""
    assert not hits, f"{rerun_hint()} {len(hits)} traceback/error line(s) in poolkeeper's log; the first:\n{context}"


def test_the_host_was_killed_between_its_load_balancer_and_nic_writes(storm: Outcome) -> None:
    assert storm.kills >= 1 and storm.killed_between, (
        f"{rerun_hint()} the SIGKILL did not land between poolkeeper's LB write and its NIC write "
        f"(kills={storm.kills}); notes: {storm.notes}")
