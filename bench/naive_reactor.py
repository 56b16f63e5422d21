"""The storm benchmark's baseline: a naive per-event reactor, as one would first write it with the SDK.

For every ``ResourceWriteSuccess`` of a VM (Event Grid webhook, validation handshake included): GET the VM, GET its
NIC, GET the load balancer; PUT the load balancer with one more NAT rule (lowest free port, ``If-Match``); PUT the NIC
with the pool and the rule (``If-Match``). Every 409/412/429/5xx answer is retried (412: from the GETs again), waiting
the server's ``retry-after-ms``/``Retry-After``. No coalescing, no pacing. It runs as its own managed identity so that
armsim's request log tells its requests apart.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.identity import ManagedIdentityCredential

from poolkeeper.clients import ArmClients, make_clients
from poolkeeper.pacing import retry_after_from_headers

NAIVE_CLIENT_ID = "naive-reactor-identity"


class NaiveReactor:
    def __init__(self, subscription_id: str, arm_endpoint: str, *, resource_group: str, lb_name: str, pool: str,
                 frontend: str, port_range: tuple[int, int], backend_port: int = 22, name_prefix: str = "") -> None:
        # no SDK retries: every attempt is this reactor's own, and visible in armsim's log
        self.clients: ArmClients = make_clients(subscription_id, arm_endpoint,
                                                ManagedIdentityCredential(client_id=NAIVE_CLIENT_ID), retry_total=0)
        self.rg, self.lb_name, self.pool, self.frontend = resource_group, lb_name, pool, frontend
        self.port_range, self.backend_port, self.name_prefix = port_range, backend_port, name_prefix
        self.errors: list[str] = []
        self.server: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------------------------------------------ webhook
    def start(self) -> str:
        reactor = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                events = json.loads(self.rfile.read(length) or b"[]")
                answer: dict[str, Any] = {}
                for event in events if isinstance(events, list) else [events]:
                    if event.get("eventType") == "Microsoft.EventGrid.SubscriptionValidationEvent":
                        answer = {"validationResponse": event["data"]["validationCode"]}
                    else:
                        reactor.on_event(event)
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                # Event Grid may have given up waiting (its delivery timeout); it redelivers
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/events"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
        self.clients.close()

    # ------------------------------------------------------------------------------------------------ reaction
    def on_event(self, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        subject = str(event.get("subject") or data.get("resourceUri") or "")
        if event.get("eventType") != "Microsoft.Resources.ResourceWriteSuccess":
            return
        if "/providers/microsoft.compute/virtualmachines/" not in subject.lower():
            return
        vm_name = subject.rstrip("/").split("/")[-1]
        if not vm_name.startswith(self.name_prefix):
            return
        try:
            self._wire(vm_name)
        except Exception as err:  # a baseline: record and move on (Event Grid redelivers on a timeout)
            self.errors.append(f"{vm_name}: {err}")

    def _wire(self, vm_name: str) -> None:
        for _ in range(200):
            try:
                self._attempt(vm_name)
                return
            except HttpResponseError as err:
                if err.status_code != 412:
                    raise
        raise RuntimeError(f"{vm_name}: gave up after 200 lost ETag races")

    def _attempt(self, vm_name: str) -> None:
        """GET VM, NIC, LB; PUT LB with the VM's rule; PUT NIC with pool and rule (a 412 goes up: start again)."""
        from azure.mgmt.network.models import BackendAddressPool, InboundNatRule, SubResource

        compute, network = self.clients.compute, self.clients.network
        vm = _retry(lambda: compute.virtual_machines.get(self.rg, vm_name))
        nic_name = vm.network_profile.network_interfaces[0].id.rstrip("/").split("/")[-1]
        nic = _retry(lambda: network.network_interfaces.get(self.rg, nic_name))
        lb = _retry(lambda: network.load_balancers.get(self.rg, self.lb_name))
        rule_name = f"naive-{vm_name}-{self.backend_port}"
        rules = list(lb.inbound_nat_rules or [])  # hybrid models: assign the list once it is complete
        if not any(r.name == rule_name for r in rules):
            used = {r.frontend_port for r in rules}
            port = next(p for p in range(self.port_range[0], self.port_range[1] + 1) if p not in used)
            rules.append(InboundNatRule(
                name=rule_name, protocol="Tcp", frontend_port=port, backend_port=self.backend_port,
                frontend_ip_configuration=SubResource(id=f"{lb.id}/frontendIPConfigurations/{self.frontend}")))
            lb.inbound_nat_rules = rules
            _retry(lambda: network.load_balancers.begin_create_or_update(
                self.rg, self.lb_name, lb, headers={"If-Match": lb.etag}).result())
            nic = _retry(lambda: network.network_interfaces.get(self.rg, nic_name))
        ipcs = list(nic.ip_configurations or [])
        pool_id = f"{lb.id}/backendAddressPools/{self.pool}"
        ipcs[0].load_balancer_backend_address_pools = [BackendAddressPool(id=pool_id)]
        ipcs[0].load_balancer_inbound_nat_rules = [InboundNatRule(id=f"{lb.id}/inboundNatRules/{rule_name}")]
        nic.ip_configurations = ipcs
        _retry(lambda: network.network_interfaces.begin_create_or_update(
            self.rg, nic_name, nic, headers={"If-Match": nic.etag}).result())


def _retry(call: Any, attempts: int = 50) -> Any:
    """Retry 409/429/5xx waiting what the server asks (412 goes up: the caller re-reads)."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except HttpResponseError as err:
            if err.status_code not in (409, 429, 500, 502, 503, 504) or attempt == attempts:
                raise
            headers = dict(err.response.headers) if err.response is not None else {}
            time.sleep(retry_after_from_headers(headers) or min(5.0, 0.2 * 2 ** attempt))
    raise AssertionError("unreachable")
