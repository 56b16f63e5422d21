"""The planner's public entry (kept for importers): see :mod:`poolkeeper.planning` for the phases."""

from __future__ import annotations

from poolkeeper.planning import matches, nat_rule_name_v1, nat_rule_name_v2, plan, scope_to_binding, tag_value

__all__ = ["matches", "nat_rule_name_v1", "nat_rule_name_v2", "plan", "scope_to_binding", "tag_value"]
