"""ARM's error shape, so that SDKs and the CLI parse armsim's refusals exactly as they parse Azure's."""

from __future__ import annotations

from typing import Any


class ArmError(Exception):
    """A refusal answered as ``{"error": {"code", "message", "details"}}`` with an HTTP status."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


def not_found(resource_id: str, kind: str = "Resource") -> ArmError:
    return ArmError(
        404,
        "ResourceNotFound",
        f"The {kind} '{resource_id}' was not found. "
        "Check the resource id (names and resource group), or create it first.",
    )


def bad_request(code: str, message: str) -> ArmError:
    return ArmError(400, code, message)
