"""Issue 13, "Flexible scale sets arrive wired": the pool goes into a bound Flexible scale set's model (new members
are created in it, no write per member) and existing members join per NIC. Pure planner decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from poolkeeper import flexrecord
from poolkeeper.changes import (
    AssignNatRule,
    Change,
    ClearUpgradeRecord,
    CreateNatRule,
    EnsureNatRuleV2,
    JoinPool,
    Plan,
    SetScaleSetModelPool,
    UpgradeInstances,
)
from poolkeeper.maintenance import DRAIN_TAG, DRAINED_CODE, REMOVED_CODE
from poolkeeper.mutations import edit_scale_set
from poolkeeper.planner import plan

from . import builders as B
from .test_planner import converge

FLEX = B.compute_id("virtualMachineScaleSets", "flex")


def kinds(p: Plan, kind: type[Change]) -> list[Any]:
    return [c for c in p.changes if isinstance(c, kind)]


def _estate(members: int = 2, *, pools: tuple[str, ...] = (), member_pools: tuple[str, ...] = (),
            sku: str = "Standard", **ss: Any) -> dict[str, Any]:
    """The tutorial's load balancer and a Flexible scale set ``flex`` with ``members`` member VMs (own NICs)."""
    estate = B.tutorial(0, sku=sku)
    estate["vms"] = [B.vm(f"flex_{i}", nics=(f"flex_{i}-nic",), avset=None, scale_set=FLEX) for i in range(members)]
    estate["nics"] = [B.nic(f"flex_{i}-nic", vm=B.compute_id("virtualMachines", f"flex_{i}"), pools=member_pools)
                      for i in range(members)]
    estate["scale_sets"] = [B.scale_set("flex", mode="Flexible", pools=pools, **ss)]
    return estate


def _bound(**binding: Any) -> Any:
    return B.config(B.binding(match={"scaleSet": "flex"}, **binding))


def test_model_gets_the_pool_once_and_existing_members_join_per_nic() -> None:
    p, after = converge(_bound(), B.snapshot(**_estate(2)))
    (m,) = kinds(p, SetScaleSetModelPool)
    assert (m.scale_set_id, m.nic_config, m.ip_config, m.pool_id) == (FLEX, "flex-nic", "flex-ip", B.POOL_ID)
    assert m.record_instance_ids == () and m.model_etag == '"3"'  # no upgrade record; If-Match on what was planned
    assert sorted(j.nic_id.rsplit("/", 1)[-1] for j in kinds(p, JoinPool)) == ["flex_0-nic", "flex_1-nic"]
    assert not kinds(p, UpgradeInstances) and not kinds(p, ClearUpgradeRecord)  # Flexible: never upgraded
    ss = after.scale_set(FLEX)
    assert ss is not None and ss.primary_nic_configuration is not None
    assert ss.primary_nic_configuration.primary_ip_configuration.backend_pool_ids == (B.POOL_ID,)


def test_members_created_wired_cost_nothing() -> None:
    """The model has the pool and its members were created in it (no poolkeeper tag): nothing to write."""
    p = plan(_bound(), B.snapshot(**_estate(5, pools=(B.POOL_ID,), member_pools=(B.POOL_ID,))))
    assert p.is_empty, p.describe()


def test_model_without_the_pool_is_rewired_like_a_uniform_one() -> None:
    """Someone removed the pool from the model (members still in it): the model gets it back, as a Uniform model
    does (model drift, PK013 on sweeps), and no member is written."""
    p = plan(_bound(), B.snapshot(**_estate(3, member_pools=(B.POOL_ID,))))
    assert [c.kind for c in p.changes] == ["SetScaleSetModelPool"]


def test_v2_rule_over_the_pool_even_before_members_exist() -> None:
    """NAT rule V2 over the pool: members created in the pool get their port from Azure, no write per member."""
    p, _ = converge(_bound(nat=B.ssh("v2")), B.snapshot(**_estate(0)))
    assert [c.kind for c in p.changes] == ["EnsureNatRuleV2", "SetScaleSetModelPool"]
    assert kinds(p, EnsureNatRuleV2)[0].rule_name == "pk-web-22"


def test_v1_keeps_per_vm_rules_and_no_v2_rule() -> None:
    """Flexible members are VMs: a v1 binding gives each its own rule (a NIC write per member for the assignment),
    never the NAT rule V2 a Uniform scale set falls back to, and no NatRuleV1OnScaleSet note."""
    p, _ = converge(_bound(nat=B.ssh()), B.snapshot(**_estate(2, pools=(B.POOL_ID,), member_pools=(B.POOL_ID,))))
    assert not kinds(p, EnsureNatRuleV2) and not kinds(p, SetScaleSetModelPool) and not kinds(p, JoinPool)
    assert sorted(c.rule_name for c in kinds(p, CreateNatRule)) == ["pk-flex_0-22", "pk-flex_1-22"]
    assert len(kinds(p, AssignNatRule)) == 2 and not p.findings


def test_basic_load_balancer_is_reported_not_written() -> None:
    p = plan(_bound(), B.snapshot(**_estate(0, sku="Basic")))
    assert not kinds(p, SetScaleSetModelPool)
    assert [f.guardrail for f in p.findings] == ["FlexibleScaleSetOnBasicLoadBalancer"]


def test_scale_set_without_network_profile_only_wires_members() -> None:
    estate = _estate(1)
    estate["scale_sets"][0]["properties"].pop("virtualMachineProfile")
    p = plan(_bound(), B.snapshot(**estate))
    assert [c.kind for c in p.changes] == ["JoinPool"] and not p.findings


def test_ignored_or_out_of_scope_scale_set_model_is_left_alone() -> None:
    estate = _estate(0)
    estate["scale_sets"][0]["tags"] = {"poolkeeper.ignore": "true"}
    assert plan(_bound(), B.snapshot(**estate)).is_empty
    far = _estate(0)
    far["scale_sets"] = [B.scale_set("flex", rg="otherRG", mode="Flexible")]
    assert not kinds(plan(B.config(B.binding(match={"scaleSet": "flex"})), B.snapshot(**far)), SetScaleSetModelPool)


def test_event_run_for_a_member_considers_its_scale_set() -> None:
    snap = B.snapshot(**_estate(2))
    member = B.compute_id("virtualMachines", "flex_1")
    p = plan(_bound(), snap, only=[member.upper()])
    assert [c.kind for c in p.changes] == ["JoinPool", "SetScaleSetModelPool"]
    other = B.compute_id("virtualMachines", "someoneElse")
    assert plan(_bound(), snap, only=[other]).is_empty


def test_model_write_keeps_network_api_version_and_tags() -> None:
    """The edit adds the pool to the model as read: networkApiVersion and tags go back unchanged, no record."""
    body = B.scale_set("flex", mode="Flexible", tags={"env": "prod"})
    body["properties"]["virtualMachineProfile"]["networkProfile"]["networkApiVersion"] = "2020-11-01"
    (m,) = kinds(plan(_bound(), B.snapshot(**_estate(0))), SetScaleSetModelPool)
    out = edit_scale_set(body, [m])
    profile = out["properties"]["virtualMachineProfile"]["networkProfile"]
    assert profile["networkApiVersion"] == "2020-11-01" and out["tags"] == {"env": "prod"}
    ipc = profile["networkInterfaceConfigurations"][0]["properties"]["ipConfigurations"][0]["properties"]
    assert ipc["loadBalancerBackendAddressPools"] == [{"id": B.POOL_ID}]


# -- never fight a person: members created wired by the model poolkeeper wrote (poolkeeper.flexrecord) -------------
READ_AT = datetime(2026, 12, 1, 19, 0, 0, tzinfo=UTC)
RECORD = "2026-12-01T19:05:00Z;web"  # READ_AT + the default grace of 300 s, for binding "web"


def _wired_estate(created: tuple[str | None, ...], *, record: str | None = RECORD,
                  record_key: str = "poolkeeper.flexwired",
                  model_pools: tuple[str, ...] = (B.POOL_ID,)) -> dict[str, Any]:
    """A Flexible set whose model has the pool (and poolkeeper's record); member ``flex_i`` created at
    ``created[i]`` (None: no timeCreated), member 0 in the pool, the others taken out (no poolkeeper tag)."""
    estate = _estate(len(created), pools=model_pools, tags={record_key: record} if record is not None else None)
    for i, (vm, when) in enumerate(zip(estate["vms"], created, strict=True)):
        if when is not None:
            vm["properties"]["timeCreated"] = when
        if i == 0:
            estate["nics"][i] = B.nic("flex_0-nic", vm=vm["id"], pools=(B.POOL_ID,))
    return estate


def _held(p: Plan) -> list[str]:
    return sorted(f.resource_id.rsplit("/", 1)[-1] for f in p.findings if f.guardrail == REMOVED_CODE)


def _joined(p: Plan) -> list[str]:
    return sorted(j.nic_id.rsplit("/", 1)[-1] for j in kinds(p, JoinPool))


def test_model_write_records_binding_and_time_in_the_same_put() -> None:
    """The record: the snapshot's read time plus the grace, and the binding; written by the model PUT itself, once."""
    p, after = converge(_bound(), B.snapshot(**_estate(0), read_at=READ_AT))
    (m,) = kinds(p, SetScaleSetModelPool)
    assert m.flex_record == RECORD and m.write_by == "2026-12-01T19:02:30Z"  # started late, it is re-planned
    ss = after.scale_set(FLEX)
    assert ss is not None and flexrecord.decode(ss.tags) == flexrecord.FlexRecord(
        "web", datetime(2026, 12, 1, 19, 5, 0, tzinfo=UTC))
    # the grace is configurable (0: members created after the read count as wired)
    (m0,) = kinds(plan(B.config(B.binding(match={"scaleSet": "flex"}), flexibleWiredGraceSeconds=0),
                       B.snapshot(**_estate(0), read_at=READ_AT)), SetScaleSetModelPool)
    assert m0.flex_record == "2026-12-01T19:00:00Z;web" and m0.write_by is None
    # tag names are case-insensitive: the edit replaces a record spelt otherwise instead of adding a second one
    body = B.scale_set("flex", mode="Flexible", tags={"PoolKeeper.FlexWired": "2020-01-01T00:00:00Z;old", "env": "x"})
    assert edit_scale_set(body, [m])["tags"] == {"env": "x", "poolkeeper.flexwired": RECORD}


def test_no_extra_write_when_the_model_has_the_pool_and_the_record() -> None:
    estate = _wired_estate(("2026-12-01T19:06:00Z",))
    assert plan(_bound(), B.snapshot(**estate, read_at=READ_AT + timedelta(hours=1))).is_empty


def test_member_created_after_the_record_and_taken_out_is_held() -> None:
    """Created wired by the model (after the record), its NIC now out of the pool and untagged: a person took it
    out. Held like a NIC poolkeeper wired itself: RemovedByPerson, no JoinPool; Azure's 7-digit fraction parsed."""
    estate = _wired_estate(("2026-12-01T19:06:00Z", "2026-12-01T19:10:03.1234567+00:00"))
    p = plan(_bound(), B.snapshot(**estate))
    assert _joined(p) == [] and _held(p) == ["flex_1-nic"], p.describe()
    assert not kinds(p, SetScaleSetModelPool)
    (f,) = p.findings
    assert f.binding == "web" and "Flexible scale set's model" in f.message
    # the same on an event-driven run for that member only
    member = B.compute_id("virtualMachines", "flex_1")
    assert _held(plan(_bound(), B.snapshot(**estate), only=[member])) == ["flex_1-nic"]


def test_member_created_before_the_record_or_without_time_is_joined() -> None:
    """Created before the record's time (inside the grace, or from the old model) or with no timeCreated: joined."""
    estate = _wired_estate(("2026-12-01T19:06:00Z", "2026-12-01T19:04:59Z", "2026-12-01T19:05:00Z", None))
    p = plan(_bound(), B.snapshot(**estate))
    assert _joined(p) == ["flex_1-nic", "flex_2-nic", "flex_3-nic"] and _held(p) == []


def test_repair_always_puts_a_member_created_wired_back() -> None:
    estate = _wired_estate(("2026-12-01T19:06:00Z", "2026-12-01T19:10:00Z"))
    p = plan(B.config(B.binding(match={"scaleSet": "flex"}, repair="always")), B.snapshot(**estate))
    assert _joined(p) == ["flex_1-nic"] and _held(p) == []


def test_record_name_is_case_insensitive() -> None:
    estate = _wired_estate(("2026-12-01T19:06:00Z", "2026-12-01T19:10:00Z"), record_key="PoolKeeper.FlexWired")
    assert _held(plan(_bound(), B.snapshot(**estate))) == ["flex_1-nic"]


def test_without_poolkeepers_record_members_are_joined_as_before() -> None:
    """A model someone else wired (no record), or a record of another binding: "never wired", joined (the time the
    model got the pool is unknowable, so a person's removal cannot be told apart)."""
    late = ("2026-12-01T19:06:00Z", "2026-12-01T19:10:00Z")
    for estate in (_wired_estate(late, record=None), _wired_estate(late, record="2026-12-01T19:05:00Z;other"),
                   _wired_estate(late, record="garbage")):
        p = plan(_bound(), B.snapshot(**estate))
        assert _joined(p) == ["flex_1-nic"] and _held(p) == [] and not kinds(p, SetScaleSetModelPool)


def test_model_that_lost_the_pool_gets_it_back_with_a_fresh_record_and_members_join() -> None:
    """Someone removed the pool from the model: members created meanwhile were created unwired, so they join (the
    old record no longer counts: the model lacks the pool), and the re-wiring writes a new record."""
    estate = _wired_estate(("2026-12-01T19:06:00Z", "2026-12-01T19:10:00Z"), model_pools=())
    p = plan(_bound(), B.snapshot(**estate, read_at=datetime(2026, 12, 1, 20, 0, 0, tzinfo=UTC)))
    assert _joined(p) == ["flex_1-nic"] and _held(p) == []
    (m,) = kinds(p, SetScaleSetModelPool)
    assert m.flex_record == "2026-12-01T20:05:00Z;web"


def test_drained_member_created_wired_is_drained_not_removed() -> None:
    estate = _wired_estate(("2026-12-01T19:06:00Z", "2026-12-01T19:10:00Z"))
    estate["nics"][1]["tags"] = {DRAIN_TAG: "some record"}
    p = plan(_bound(), B.snapshot(**estate))
    assert _joined(p) == [] and [f.guardrail for f in p.findings] == [DRAINED_CODE]
