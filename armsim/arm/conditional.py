"""Conditional requests: ETags as each provider family writes them, ``If-Match`` / ``If-None-Match`` (412)."""

from __future__ import annotations

import uuid
from typing import Any

from armsim.arm.core import EngineCore
from armsim.errors import ArmError
from armsim.provider import Provider
from armsim.store import Record


def _norm_etag(value: str) -> str:
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    return v.strip('"')


class Conditional(EngineCore):
    """ETag minting and precondition checks."""

    def _etag_headers(self, body: dict[str, Any]) -> dict[str, str]:
        return {"ETag": body["etag"]} if isinstance(body.get("etag"), str) else {}

    def _check_preconditions(self, headers: dict[str, str], current_etag: str | None, exists: bool, what: str) -> None:
        if_match = headers.get("if-match")
        if if_match is not None:
            if not exists:
                raise ArmError(
                    412,
                    "PreconditionFailed",
                    f"Precondition failed: {what} does not exist, so If-Match '{if_match}' cannot match. Re-read it.",
                )
            if if_match.strip() != "*" and _norm_etag(if_match) != _norm_etag(current_etag or ""):
                raise ArmError(
                    412,
                    "PreconditionFailed",
                    f"Precondition failed: the ETag '{if_match}' does not match the current ETag '{current_etag}' of "
                    f"{what} (EtagMismatch). Someone else changed it: read it again, re-apply your change, and retry.",
                )
        if_none = headers.get("if-none-match")
        if if_none is not None and if_none.strip() == "*" and exists:
            raise ArmError(
                412,
                "PreconditionFailed",
                f"Precondition failed: {what} already exists and If-None-Match is '*'. Use If-Match to update it.",
            )

    def _new_etag(self, provider: Provider, rec: Record | None) -> str | None:
        if provider.etag_style == "network":
            return f'W/"{uuid.uuid4()}"'
        if provider.etag_style == "compute":
            n = int(rec.meta.get("etag_n", 0)) + 1 if rec else 1
            return f'"{n}"'
        return None
