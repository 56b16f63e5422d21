"""PK010: scale-set instances not on the latest model (report only).

Source: seed 002 (scale-set field manual): operators need "controlled rollout rather than surprise drift across
individual VMs"; ``az vmss list-instances`` shows each instance's "latest model status". poolkeeper never rolls out
a model change it did not make, so there is no fix. Who changed the model is not in the scale set's body (ARM keeps
it in the Activity Log, which poolkeeper does not read): the evidence says so rather than guess.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail

ID = "PK010"
FIX = ("find who changed the model (Activity Log of the scale set), then upgrade the instances deliberately "
       "(az vmss update-instances --instance-ids ...) or revert the model")


@guardrail(id=ID, title="Scale-set instances not on the latest model", severity="low", fix_hint=FIX,
           source="002: \"controlled rollout rather than surprise drift\"", modes=("audit", "off"))
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    for ss in view.snapshot.scale_sets.values():
        stale = sorted((i.instance_id for i in ss.instances if i.latest_model_applied is False),
                       key=lambda x: (len(x), x))
        if stale:
            yield found(ID, ss.id, f"instances {', '.join(stale)} of scale set {ss.name} do not run its latest "
                                   f"model (upgrade policy {ss.upgrade_mode})", fix=FIX,
                        evidence={"instances": stale, "upgradePolicy": ss.upgrade_mode,
                                  "changedBy": "unknown: not in the scale set's body (see its Activity Log)"})
