"""The Azure Resource Manager events the engine publishes after each operation (Event Grid schema)."""

from __future__ import annotations

import uuid
from typing import Any

from armsim.arm.core import EngineCore
from armsim.arm.values import utcnow_iso
from armsim.provider import Ctx


class Events(EngineCore):
    """Publication of ARM events to the listeners (armsim.eventgrid subscribes)."""

    def publish(self, event: dict[str, Any]) -> None:
        for listener in list(self.event_listeners):
            listener(event)

    def make_event(
        self, ctx: Ctx, event_type: str, resource_id: str, operation_name: str, status: str
    ) -> dict[str, Any]:
        """An Azure Resource Manager event in Event Grid schema (topic is filled in by the system topic)."""
        p = ctx.principal
        claims = {
            "aud": self.base_url,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": str(p.get("iat", "")),
            "nbf": str(p.get("nbf", "")),
            "exp": str(p.get("exp", "")),
            "appid": p.get("appid", ""),
            "appidacr": "2",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": p.get("oid", ""),
            "http://schemas.microsoft.com/identity/claims/tenantid": self.tenant_id,
            "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier": p.get("oid", ""),
            "idtyp": "app",
            "ver": "1.0",
        }
        data: dict[str, Any] = {
            "authorization": {"scope": resource_id, "action": operation_name, "evidence": {"role": "Contributor"}},
            "claims": claims,
            "correlationId": ctx.correlation_id,
            "resourceProvider": operation_name.split("/")[0],
            "resourceUri": resource_id,
            "operationName": operation_name,
            "status": status,
            "subscriptionId": self.subscription_id,
            "tenantId": self.tenant_id,
        }
        if ctx.method in ("DELETE", "POST"):
            data["httpRequest"] = {
                "clientRequestId": ctx.client_request_id,
                "clientIpAddress": "127.0.0.1",
                "method": ctx.method,
                "url": ctx.url,
            }
        return {
            "subject": resource_id,
            "eventType": event_type,
            "eventTime": utcnow_iso(),
            "id": str(uuid.uuid4()),
            "data": data,
            "dataVersion": "2",
            "metadataVersion": "1",
        }
