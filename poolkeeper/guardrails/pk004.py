"""PK004: a load-balancing rule has no health probe, or an HTTP(S) port is probed with TCP where an HTTP probe is
possible.

Sources: seed 000, "The load balancer uses health probes to monitor the availability of VM instances" and
"Probes can test either HTTP or TCP. If your VMs run an HTTP server, create an HTTP probe. Otherwise create a TCP
probe."; seed 003 builds a probe and a rule that uses it. HTTPS probes exist on Standard load balancers only
(Microsoft Learn, "Azure Load Balancer health probes": HTTPS is "Standard SKU only"), so a Basic load balancer's
HTTPS port is not flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from poolkeeper.findings import Finding
from poolkeeper.guardrails.registry import View, found, guardrail

ID = "PK004"
FIX_PROBE = "add a health probe to the rule (az network lb rule update --probe-name ...)"
FIX_HTTP = ("probe the HTTP endpoint instead (az network lb probe create --protocol Http --path /health); a TCP "
            "probe only sees that the port accepts connections, not that the application answers")

_PORTS = {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 65535}, "uniqueItems": True}


@guardrail(id=ID, title="Rule without health probe, or HTTP(S) port probed with TCP",
           source="000: \"If your VMs run an HTTP server, create an HTTP probe\"; 003", severity="medium",
           fix_hint=FIX_HTTP,
           params_schema={"properties": {"httpPorts": {**_PORTS, "default": [80, 8080]},
                                         "httpsPorts": {**_PORTS, "default": [443]}}})
def check(view: View, params: Mapping[str, Any]) -> Iterable[Finding]:
    for lb in view.snapshot.load_balancers.values():
        probes = {p.id.lower(): p for p in lb.probes}
        for rule in lb.load_balancing_rules:
            if rule.probe_id is None:
                yield found(ID, rule.id, f"load-balancing rule {rule.name} of {lb.name} has no health probe: "
                                         "traffic goes to backends whether or not they are healthy",
                            fix=FIX_PROBE, evidence={"rule": rule.name})
                continue
            probe = probes.get(rule.probe_id.lower())
            if probe is None or probe.protocol.lower() != "tcp" or rule.backend_port is None:
                continue
            web = rule.backend_port in params["httpPorts"] or (
                rule.backend_port in params["httpsPorts"] and not lb.is_basic)
            if web:
                yield found(ID, rule.id, f"rule {rule.name} of {lb.name} sends port {rule.backend_port} (HTTP"
                                         f"{'S' if rule.backend_port in params['httpsPorts'] else ''}) but probe "
                                         f"{probe.name} tests TCP only", fix=FIX_HTTP,
                            evidence={"probe": probe.id, "probeProtocol": probe.protocol,
                                      "backendPort": rule.backend_port})
