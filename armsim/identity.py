"""The App Service managed-identity protocol, so ``ManagedIdentityCredential`` and ``az login --identity`` work
unchanged.

Tokens are real JWTs (HS256, signed with a per-simulator secret) carrying the claims Azure's would: ``tid``, ``oid``,
``appid``, ``aud``. Each user-assigned identity (selected by ``client_id`` / ``object_id`` / ``mi_res_id``, as on App
Service) gets its own stable object id, so tests can act as poolkeeper or as "someone else".
"""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import jwt

from armsim.errors import ArmError

_NS = uuid.UUID("5f1b7a52-2f3c-4c56-9d1e-6d0f3e0a7a11")


class IdentityService:
    def __init__(
        self, tenant_id: str, subscription_id: str, secret: str | None = None, header: str | None = None
    ) -> None:
        self.tenant_id = tenant_id
        self.subscription_id = subscription_id
        self.secret = secret or secrets.token_hex(32)
        self.header = header or secrets.token_hex(16)
        self.token_lifetime = 3600 * 24

    def principal_for(self, selector: str | None) -> dict[str, str]:
        """The identity a token request names: the system-assigned identity, or a user-assigned one."""
        if not selector:
            oid = str(uuid.uuid5(_NS, "system-assigned"))
            return {"oid": oid, "appid": str(uuid.uuid5(_NS, "system-assigned-app")), "name": "armsim-system-identity"}
        sel = selector.lower()
        return {
            "oid": str(uuid.uuid5(_NS, "oid:" + sel)),
            "appid": str(uuid.uuid5(_NS, "app:" + sel)),
            "name": selector,
        }

    def object_id_for_client(self, client_id: str | None) -> str:
        return self.principal_for(client_id)["oid"]

    def issue(self, resource: str, selector: str | None) -> dict[str, Any]:
        if not resource:
            raise ArmError(400, "InvalidRequest", "The 'resource' query parameter is required (e.g. https://management.azure.com/).")
        p = self.principal_for(selector)
        now = int(time.time())
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": now,
            "nbf": now - 5,
            "exp": now + self.token_lifetime,
            "tid": self.tenant_id,
            "oid": p["oid"],
            "sub": p["oid"],
            "appid": p["appid"],
            "idtyp": "app",
            "xms_mirid": f"/subscriptions/{self.subscription_id}/resourcegroups/armsim/providers/"
            f"Microsoft.ManagedIdentity/userAssignedIdentities/{p['name']}",
            "ver": "1.0",
        }
        token = jwt.encode(claims, self.secret, algorithm="HS256", headers={"kid": "armsim"})
        return {
            "access_token": token,
            "expires_on": str(claims["exp"]),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": p["appid"],
        }

    def verify(self, token: str) -> dict[str, Any] | None:
        try:
            return jwt.decode(token, self.secret, algorithms=["HS256"], options={"verify_aud": False})
        except jwt.PyJWTError:
            return None
