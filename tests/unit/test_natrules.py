"""The shared NAT-rule refusals: one decision for the planner and the workflows."""

from __future__ import annotations

from poolkeeper.natrules import NAT_RULE_V2_REQUIRES_STANDARD_SKU, nat_rule_v2_refusal


def test_nat_rule_v2_needs_the_standard_sku() -> None:
    assert nat_rule_v2_refusal("lb", "Standard") is None
    assert nat_rule_v2_refusal("lb", "standard") is None
    for sku in ("Basic", None, "", "Gateway"):
        refusal = nat_rule_v2_refusal("lb", sku)
        assert refusal is not None and refusal.code == NAT_RULE_V2_REQUIRES_STANDARD_SKU
        assert "lb is a" in refusal.message and "Standard" in refusal.message
