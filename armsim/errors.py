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


def referenced_resource_not_provisioned(referenced_id: str, user_id: str, wait_seconds: float,
                                        time_scale: float, *, state: str = "Updating",
                                        operation: str = "PutLoadBalancerOperation") -> ArmError:
    """The network provider's retryable 429 for a write that references a resource still being updated or deleted.

    Source: the transcribed error in tests/data/reference/
    error_429_RetryableError_ReferencedResourceNotProvisioned_*.json
    (coreos/tectonic-installer#1460); the Deleting form ("Resource is in Deleting state and the last operation that
    updated/is updating the resource is DeleteNicOperation.") is in coreos/tectonic-installer#1459. The retry hint is
    the time left on the referenced resource's operation.
    """
    from armsim.throttle import retry_after_headers

    return ArmError(
        429,
        "RetryableError",
        "A retryable error occurred.",
        details=[
            {
                "code": "ReferencedResourceNotProvisioned",
                "message": f"Cannot proceed with operation because resource {referenced_id} used by resource "
                f"{user_id} is not in Succeeded state. Resource is in {state} state and the last operation that "
                f"updated/is updating the resource is {operation}.",
            }
        ],
        headers=retry_after_headers(max(wait_seconds, 0.001), time_scale),
    )
