"""PK014: a scale set's capacity leaves less headroom than a parameter under its limit — audit only.

Source: seed 002, "Misconfigured scale sets can ... scale into quota limits". What is readable here: the scale set's
own instance ceiling, 100 instances with ``singlePlacementGroup`` true (the default for Uniform) and 1,000 otherwise
(Microsoft Learn, "Virtual Machine Scale Sets and placement groups"; the compute API's ``singlePlacementGroup``:
"limits the scale set to a single placement group, of max size 100"). NOT read: autoscale settings
(Microsoft.Insights/autoscaleSettings) and regional vCPU quotas (Microsoft.Compute/locations/usages) — armsim
simulates neither and poolkeeper's role does not grant them, so those headrooms are not checked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail

ID = "PK014"
FIX = ("plan capacity: set singlePlacementGroup to false for more than 100 instances, or split the fleet; check "
       "the regional quota (az vm list-usage) and autoscale maximum yourself — poolkeeper does not read them")


@guardrail(id=ID, title="Scale set close to its instance limit (autoscale/quota not readable)", severity="low",
           source="002: \"scale into quota limits\"", modes=("audit", "off"), fix_hint=FIX,
           params_schema={"properties": {"minHeadroom": {"type": "integer", "minimum": 0, "default": 5}}})
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    for ss in view.snapshot.scale_sets.values():
        if ss.capacity is None:
            continue
        single = ss.single_placement_group is not False and ss.is_uniform
        limit = 100 if single else 1000
        headroom = limit - ss.capacity
        if headroom < params["minHeadroom"]:
            yield found(ID, ss.id, f"scale set {ss.name} runs {ss.capacity} of at most {limit} instances "
                                   f"(headroom {headroom} < {params['minHeadroom']})", fix=FIX,
                        evidence={"capacity": ss.capacity, "limit": limit, "singlePlacementGroup": single,
                                  "notRead": ["autoscale settings", "regional quota"]})
