"""The demo's second act: migrate seed 001's NAT pool to a NAT rule V2 on a running armsim, narrating each step.

``run_natpool_act(info, out)`` expects armsim running scenario ``vmss-natpool`` with ``info.env()`` already in the
environment (CA bundle, managed identity endpoint). It dry-runs the migration, runs it, prints one line per step
with the ARM calls it made, the old → new port of every instance, and returns a summary for the demo to check.
"""

from __future__ import annotations

import tempfile
from typing import Any, TextIO

from azure.identity import ManagedIdentityCredential

from poolkeeper.composition import build
from poolkeeper.settings import Settings
from poolkeeper.workflows.runner import Hooks
from poolkeeper.workflows.store import FileStore

RG = "MyResourceGroup"


def run_natpool_act(info: Any, out: TextIO) -> dict[str, Any]:
    settings = Settings.from_env()
    credential = ManagedIdentityCredential(client_id=settings.client_id or None)
    app = build(settings, configured=False, arm_endpoint=info.arm_endpoint, credential=credential,
                store=FileStore(settings.operations_dir or tempfile.mkdtemp(prefix="poolkeeper-ops-")))
    workflows = app.workflows
    lb_id = (f"/subscriptions/{info.subscription_id}/resourceGroups/{RG}/providers/Microsoft.Network/"
             "loadBalancers/MyLoadBalancer")
    request = {"loadBalancer": lb_id, "natPool": "MyNatPool"}
    try:
        dry = workflows.submit(workflows.parse("migrate-natpool", request), dry_run=True)
        print(f"  dry run: {len(dry['plan'])} steps, writes {dry['expectedWrites']}, refusals: "
              f"{[p['code'] for p in dry['problems']] or 'none'}", file=out)
        for step in dry["plan"]:
            print(f"    would: {step['title']} — {len(step['armCalls'])} ARM write(s)", file=out)
        for note in dry["notes"]:
            print(f"  note: {note['message']}", file=out)

        def narrate(event: dict[str, Any]) -> None:
            if event["event"] == "step-done":
                calls = ", ".join(f"{v} {k}" for k, v in sorted(event["armCalls"].items()))
                print(f"  ✓ {event['title']} ({calls})", file=out)
            elif event["event"] == "batch":
                print(f"    {event['scaleSet']}: {event['done']}/{event['total']} instances on the new model",
                      file=out)
            elif event["event"] == "failed":
                print(f"  ✗ {event['error']['code']}: {event['error']['message']}", file=out)

        record = workflows.submit(workflows.parse("migrate-natpool", request), hooks=Hooks(on_event=narrate))
        ports = record.get("portMappings") or {}
        for m in ports.get("instances") or []:
            old = (m["before"]["inboundNatRulePortMappings"] or [{}])[0].get("frontendPort")
            new = (m["after"]["inboundNatRulePortMappings"] or [{}])[0].get("frontendPort")
            print(f"  {m['instance']}: port {old} → {new}", file=out)
        if ports.get("afterSource") == "azure":
            print("  (new ports as Azure reports them: the backend pool's inboundNatRulesPortMapping in one"
                  " load-balancer GET; a LoadBalancers_ListInboundNatRulePortMappings query only for an"
                  " instance it does not list)",
                  file=out)
        elif ports.get("afterSource") == "predicted":
            print("  (new ports predicted by poolkeeper: Azure refused the NAT rule V2 port mapping query)", file=out)
        # the port mapping query is a POST that changes nothing: not a write
        writes = {k: v for k, v in (record.get("armCalls") or {}).items() if k not in ("read", "query")}
        print(f"  {record['status']}: operation {record['id']}, ARM calls {record.get('armCalls')}", file=out)
        return {
            "operationId": record["id"],
            "status": record["status"],
            "steps": [s["key"] for s in record.get("steps") or []],
            "armWrites": writes,
            "expectedWrites": dry["expectedWrites"],
            "portMappings": ports.get("instances") or [],
            "error": record.get("error"),
        }
    finally:
        app.close()
