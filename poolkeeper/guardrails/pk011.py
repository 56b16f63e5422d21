"""PK011: a rule probed by a scale set whose backend port differs from its probe's port, or a scale set whose
health probe no load-balancing rule uses (an inactive probe).

Source: seed 001, "After the scale set has been created, the backend port cannot be modified for a load balancing
rule used by a health probe of the load balancer" — a mismatch cannot be corrected in place later, so it is flagged
early. Azure refuses a scale set with an inactive health probe when the model is written
(CannotUseInactiveHealthProbe); the check still reports one found in an estate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail
from poolkeeper.ids import same_id

ID = "PK011"
FIX = ("to change the port: remove the health probe from the scale set model, update the rule's backend port, "
       "then set the probe again (seed 001), or use python -m poolkeeper rule change-probed-port")


@guardrail(id=ID, title="Scale-set probe and rule ports disagree, or the health probe is inactive",
           severity="medium", fix_hint=FIX,
           source="001: \"the backend port cannot be modified for a load balancing rule used by a health probe\"")
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    snap = view.snapshot
    for ss in snap.scale_sets.values():
        if not ss.health_probe_id:
            continue
        lb = snap.lb_of(ss.health_probe_id)
        if lb is None:
            continue
        probe = next((p for p in lb.probes if same_id(p.id, ss.health_probe_id)), None)
        rules = [r for r in lb.load_balancing_rules if r.probe_id and same_id(r.probe_id, ss.health_probe_id)]
        if not rules:
            yield found(ID, ss.id, f"scale set {ss.name}'s health probe {ss.health_probe_id.rsplit('/', 1)[-1]} is "
                                   f"used by no load-balancing rule of {lb.name} (inactive probe)", fix=FIX,
                        evidence={"probe": ss.health_probe_id})
            continue
        for rule in rules:
            if probe is not None and probe.port is not None and rule.backend_port is not None \
                    and rule.backend_port != probe.port:
                yield found(ID, rule.id, f"rule {rule.name} of {lb.name} sends to backend port {rule.backend_port} "
                                         f"but scale set {ss.name}'s health probe {probe.name} tests port "
                                         f"{probe.port}", fix=FIX,
                            evidence={"scaleSet": ss.id, "probePort": probe.port, "backendPort": rule.backend_port})
