"""Never fight a person (issue 12), pure: "never wired" vs "taken out" vs "drained", from tags recorded in Azure;
the planner holds the join; the drain record round-trips."""

from __future__ import annotations

from poolkeeper.changes import DeleteNatRule, JoinPool
from poolkeeper.drain import Entry, decode_record, encode_record
from poolkeeper.maintenance import DRAIN_TAG, DRAINED_CODE, REMOVED_CODE, WIRED_TAG, hold_join
from poolkeeper.mutations import edit_nic
from poolkeeper.planner import plan
from tests.unit import builders as b

LB = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Network/loadBalancers/lb"


def test_a_nic_never_wired_is_joined() -> None:
    assert hold_join("nic", {}, "web", "never") is None
    assert hold_join("nic", {"poolkeeper.binding": "other"}, "web", "never") is None


def test_a_nic_poolkeeper_wired_and_someone_removed_is_held_unless_repair_always() -> None:
    for tags in ({"poolkeeper.binding": "web"}, {WIRED_TAG: "web"}, {"Poolkeeper.Wired": "web"}):
        hold = hold_join("nic", tags, "web", "never")
        assert hold is not None and hold.code == REMOVED_CODE
        assert hold_join("nic", tags, "web", "always") is None


def test_a_drained_nic_is_held_even_with_repair_always() -> None:
    hold = hold_join("nic", {DRAIN_TAG: "v1;m:g/lb/pool@ipconfig1=None"}, "web", "always")
    assert hold is not None and hold.code == DRAINED_CODE


def test_assigning_a_nat_rule_records_that_poolkeeper_wired_the_nic_in_the_same_write() -> None:
    from poolkeeper.changes import AssignNatRule

    nic = {"name": "myNic1", "properties": {"ipConfigurations": [{"name": "ipconfig1", "properties": {}}]}}
    out = edit_nic(nic, [AssignNatRule(nic_id="n", ip_configuration="ipconfig1", rule_id=f"{LB}/inboundNatRules/r",
                                       binding="web", reason="x")])
    assert out["tags"] == {WIRED_TAG: "web"}


def test_the_planner_holds_the_join_of_a_removed_nic_and_keeps_its_nat_rule() -> None:
    estate = b.tutorial(3, joined=True)
    estate["load_balancers"][0]["properties"]["inboundNatRules"] = [b.nat_rule("pk-myVM2-22", 50002)]
    # taken out of the pool and off its NAT rule by hand
    estate["nics"][1] = b.nic("myNic2", vm=b.compute_id("virtualMachines", "myVM2"), tags={WIRED_TAG: "web"})
    cfg = b.config(b.binding(nat=b.ssh()))
    p = plan(cfg, b.snapshot(**estate))
    changes = p.changes
    assert not [c for c in changes if isinstance(c, JoinPool)]
    assert [f.guardrail for f in p.findings] == [REMOVED_CODE]
    assert not [c for c in changes if isinstance(c, DeleteNatRule)], "the VM keeps its NAT rule and port"
    repaired = plan(b.config(b.binding(nat=b.ssh(), repair="always")), b.snapshot(**estate)).changes
    assert [c.nic_id.rsplit("/", 1)[-1] for c in repaired if isinstance(c, JoinPool)] == ["myNic2"]


def test_drain_record_round_trips() -> None:
    entries = [Entry("a", LB, "pool", "ipconfig1", "None"), Entry("m", LB.replace("/lb", "/lb2"), "p2", "ipc", "None")]
    text = encode_record(entries)
    assert text == "v1;a:g/lb/pool@ipconfig1=None,m:g/lb2/p2@ipc=None"
    assert decode_record(text, "s") == entries


def test_a_nic_still_holding_a_pk_rule_of_the_binding_lb_was_wired_even_without_a_tag() -> None:
    rule = f"{LB}/inboundNatRules/pk-vm2-22"
    hold = hold_join("nic", {}, "web", "never", (rule,), LB, 22)
    assert hold is not None and hold.code == REMOVED_CODE
    assert hold_join("nic", {}, "web", "never", (f"{LB}/inboundNatRules/ssh-by-hand",), LB, 22) is None  # not ours
    assert hold_join("nic", {}, "web", "never", (rule,), LB.replace("/lb", "/other"), 22) is None  # another LB
    assert hold_join("nic", {}, "web", "never", (rule,), LB, 3389) is None  # another binding's port
    # an owner tag is the truth: a NIC moving from binding "old" keeps its old rule only until it is released
    assert hold_join("nic", {"poolkeeper.binding": "old"}, "web", "never", (rule,), LB, 22) is None


def test_the_tutorials_step_5_on_a_nic_wired_before_the_tag_existed_is_held() -> None:
    estate = b.tutorial(3, joined=True)
    rule = f"{b.LB_ID}/inboundNatRules/pk-myVM2-22"
    estate["load_balancers"][0]["properties"]["inboundNatRules"] = [
        b.nat_rule("pk-myVM2-22", 50002, backend_ip_configuration=b.ipconfig_id("myNic2"))]
    estate["nics"][1] = b.nic("myNic2", vm=b.compute_id("virtualMachines", "myVM2"), nat_rules=(rule,))  # no tags
    p = plan(b.config(b.binding(nat=b.ssh())), b.snapshot(**estate))
    assert not [c for c in p.changes if isinstance(c, JoinPool) and c.nic_id.endswith("myNic2")]
    assert [f.resource_id.rsplit("/", 1)[-1] for f in p.findings] == ["myNic2"]
