"""Property tests: the planner is deterministic, converges, and never reuses or renumbers frontend ports."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from poolkeeper.changes import CreateNatRule, Plan
from poolkeeper.config import Config
from poolkeeper.ids import id_key
from poolkeeper.model import Snapshot
from poolkeeper.planner import plan
from poolkeeper.ports import protocols_overlap

from . import builders as B
from .arm_apply import apply_plan_to_snapshot

RANGE_START = 50001
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def configs(draw: st.DrawFn) -> Config:
    def nat() -> dict[str, Any] | None:
        mode = draw(st.sampled_from([None, "v1", "v1", "v2"]))
        if mode is None:
            return None
        width = draw(st.integers(0, 12))
        start = draw(st.sampled_from([RANGE_START, RANGE_START + 5, 51001]))
        return {**B.ssh(mode=mode, start=start, end=start + width),
                "protocol": draw(st.sampled_from(["Tcp", "tcp", "All", "Udp"])),
                "backendPort": draw(st.sampled_from([22, 3389]))}

    bindings = [B.binding("web", match={"tags": {"role": "web"}}, nat=nat())]
    if draw(st.booleans()):
        bindings.append(B.binding("db", match={"tags": {"role": "db"}}, pool="dbPool", nat=nat()))
    if draw(st.booleans()):
        bindings.append(B.binding("all", match={"namePattern": "vm*"}, nat=nat()))
    return B.config(*bindings, upgradeBatchSize=draw(st.integers(1, 3)))


@st.composite
def estates(draw: st.DrawFn) -> dict[str, Any]:
    """Raw ARM kwargs: up to 8 VMs in various states (fresh, joined by hand, owned by some binding with or without
    a NAT rule), foreign NAT rules, NICs of deleted VMs, maybe a Uniform scale set, maybe a Basic SKU."""
    n = draw(st.integers(0, 8))
    used = draw(st.sets(st.integers(RANGE_START, RANGE_START + 15), max_size=5))
    rules = [B.nat_rule(f"manual-{p}", p, protocol=draw(st.sampled_from(["Tcp", "Udp"]))) for p in sorted(used)]
    used = set(used)
    vms, nics = [], []
    for i in range(n):
        role = draw(st.sampled_from(["web", "db", "none"]))
        tags: dict[str, str] = {"role": role}
        if draw(st.integers(0, 9)) == 0:
            tags["poolkeeper.ignore"] = "true"
        vm_id = B.compute_id("virtualMachines", f"vm{i}")
        state = draw(st.sampled_from(["fresh", "fresh", "joined-untagged", "owned"]))
        pools: tuple[str, ...] = ()
        nic_tags = None
        nat_refs: tuple[str, ...] = ()
        if state == "joined-untagged":
            pools = (B.POOL_ID,)
        elif state == "owned":
            owner = draw(st.sampled_from(["web", "db", "all"]))
            pools = (B.POOL_ID,) if owner != "db" else (f"{B.LB_ID}/backendAddressPools/dbPool",)
            nic_tags = {"poolkeeper.binding": owner}
            if draw(st.booleans()):
                port = draw(st.integers(RANGE_START, 51010).filter(lambda p: p not in used))
                used.add(port)
                backend = draw(st.sampled_from([22, 3389]))
                name = f"pk-vm{i}-{backend}"
                rules.append(B.nat_rule(name, port, backend_port=backend, backend_ip_configuration=B.ipconfig_id(
                    f"nic{i}"), protocol=draw(st.sampled_from(["Tcp", "Udp"]))))
                nat_refs = (f"{B.LB_ID}/inboundNatRules/{name}",)
        avset = B.AVSET_ID if draw(st.integers(0, 5)) else B.compute_id("availabilitySets", "otherSet")
        vms.append(B.vm(f"vm{i}", nics=(f"nic{i}",), tags=tags, avset=avset))
        nics.append(B.nic(f"nic{i}", vm=vm_id, pools=pools, tags=nic_tags, nat_rules=nat_refs))
    for j in range(draw(st.integers(0, 2))):  # NICs left behind by deleted VMs, still owned
        port = RANGE_START + 20 + j
        ip = B.ipconfig_id(f"orphan{j}")
        rules.append(B.nat_rule(f"pk-gone{j}-22", port, backend_ip_configuration=ip))
        nics.append(B.nic(f"orphan{j}", vm=B.compute_id("virtualMachines", f"gone{j}"), pools=(B.POOL_ID,),
                          nat_rules=(f"{B.LB_ID}/inboundNatRules/pk-gone{j}-22",), tags={"poolkeeper.binding": "web"}))
    sku = draw(st.sampled_from(["Standard", "Standard", "Basic"]))
    lb = B.load_balancer(pools=("myBackEndPool", "dbPool"), nat_rules=rules, sku=sku)
    out: dict[str, Any] = {"vms": vms, "nics": nics, "load_balancers": [lb]}
    if draw(st.booleans()):
        ss = B.scale_set(tags={"role": draw(st.sampled_from(["web", "db"]))},
                         upgrade=draw(st.sampled_from(["Manual", "Manual", "Automatic"])))
        count = draw(st.integers(0, 5))
        out["scale_sets"] = [ss]
        out["scale_set_instances"] = {ss["id"]: [B.instance(ss["id"], str(k), latest=draw(st.booleans()))
                                                 for k in range(count)]}
    return out


def _frontend_uses(snap: Snapshot) -> list[tuple[str, str, int]]:
    out = []
    for lb in snap.load_balancers.values():
        for r in lb.inbound_nat_rules:
            for port in r.frontend_ports():
                out.append((id_key(r.frontend_ip_configuration_id or ""), r.protocol, port))
        for lbr in lb.load_balancing_rules:
            if lbr.frontend_port:
                out.append((id_key(lbr.frontend_ip_configuration_id or ""), lbr.protocol, lbr.frontend_port))
    return out


def _assert_no_port_clash(snap: Snapshot) -> None:
    uses = _frontend_uses(snap)
    for i, (fe, proto, port) in enumerate(uses):
        for fe2, proto2, port2 in uses[i + 1:]:
            assert not (fe == fe2 and port == port2 and protocols_overlap(proto, proto2)), (fe, proto, port)


def _ports(snap: Snapshot) -> dict[str, tuple[str, int | None]]:
    lb = snap.load_balancer(B.LB_ID)
    assert lb is not None
    return {r.name.lower(): (id_key(r.frontend_ip_configuration_id or ""), r.frontend_port)
            for r in lb.inbound_nat_rules}


def _converge(cfg: Config, snap: Snapshot) -> tuple[Plan, Snapshot]:
    p = plan(cfg, snap)
    after = apply_plan_to_snapshot(snap, p)
    return p, after


@SETTINGS
@given(cfg=configs(), estate=estates())
def test_planning_is_deterministic(cfg: Config, estate: dict[str, Any]) -> None:
    snap = B.snapshot(**estate)
    assert plan(cfg, snap) == plan(cfg, snap)
    assert plan(cfg, snap) == plan(cfg, B.snapshot(**estate))
    p = plan(cfg, snap)
    assert Plan.from_json(p.to_json()) == p


@SETTINGS
@given(cfg=configs(), estate=estates())
def test_apply_then_replan_is_empty(cfg: Config, estate: dict[str, Any]) -> None:
    p, after = _converge(cfg, B.snapshot(**estate))
    again = plan(cfg, after)
    assert again.is_empty, f"first:\n{p.describe()}\nsecond:\n{again.describe()}"


@SETTINGS
@given(cfg=configs(), estate=estates())
def test_no_frontend_port_used_twice_and_new_ports_in_range(cfg: Config, estate: dict[str, Any]) -> None:
    snap = B.snapshot(**estate)
    p, after = _converge(cfg, snap)
    _assert_no_port_clash(after)
    ranges = {b.name: b.nat_rule.frontend_port_range for b in cfg.bindings if b.nat_rule}
    existing = _ports(snap)
    for c in p.changes:
        if isinstance(c, CreateNatRule) and c.rule_name.lower() not in existing:  # updates keep their number
            lo, hi = ranges[c.binding]
            assert lo <= c.frontend_port <= hi


@SETTINGS
@given(cfg=configs(), estate=estates(), data=st.data())
def test_existing_ports_never_change_when_vms_come_and_go(cfg: Config, estate: dict[str, Any],
                                                          data: st.DataObject) -> None:
    _, settled = _converge(cfg, B.snapshot(**estate))
    before = _ports(settled)
    raw = settled.to_arm()
    # remove some VMs (their NICs detach, as ARM does on VM delete) and add new ones
    removed = data.draw(st.sets(st.sampled_from([v["name"] for v in raw["vms"]]), max_size=3)
                        if raw["vms"] else st.just(set()))
    raw["vms"] = [v for v in raw["vms"] if v["name"] not in removed]
    for n in raw["nics"]:
        vm_ref = n["properties"].get("virtualMachine")
        if vm_ref and vm_ref["id"].rsplit("/", 1)[-1] in removed:
            del n["properties"]["virtualMachine"]
    for k in range(data.draw(st.integers(0, 3))):
        name = f"vmnew{k}"
        raw["vms"].append(B.vm(name, nics=(f"nicnew{k}",), tags={"role": data.draw(st.sampled_from(["web", "db"]))}))
        raw["nics"].append(B.nic(f"nicnew{k}", vm=B.compute_id("virtualMachines", name)))
    p, after = _converge(cfg, Snapshot.from_arm(**raw))
    now = _ports(after)
    for name, where in before.items():
        if name in now:
            assert now[name] == where, (name, p.describe())
    _assert_no_port_clash(after)
    assert plan(cfg, after).is_empty
