"""Admission of a request before routing: authentication, ARM's throttle (429 with retry hints) and fault injection."""

from __future__ import annotations

from typing import Any

from armsim.arm.core import EngineCore
from armsim.arm.values import Response
from armsim.errors import ArmError
from armsim.faults import NO_HINT
from armsim.throttle import retry_after_headers


def request_kind(method: str) -> str:
    """The throttle and log class of a request: read, write, delete or action (a POST)."""
    return {"GET": "read", "HEAD": "read", "DELETE": "delete", "POST": "action"}.get(method, "write")


# which of ARM's token buckets each kind of request takes its token from (actions count as writes)
BUCKETS = {"read": "reads", "write": "writes", "action": "writes", "delete": "deletes"}


class Admission(EngineCore):
    """Who is calling, whether the throttle lets them, whether a fault is injected."""

    def _authenticate(self, headers: dict[str, str]) -> dict[str, Any]:
        auth = headers.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise ArmError(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing. Send 'Authorization: Bearer <token>' "
                "with a token from the managed identity endpoint.",
            )
        claims = self.token_verifier(auth[7:].strip())
        if claims is None:
            raise ArmError(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid or expired. Get a new token from the managed identity endpoint.",
            )
        return claims

    def _throttled(self, principal: dict[str, Any], kind: str, entry: dict[str, Any]) -> Response | None:
        taken = self.throttle.take_both(self.subscription_id, principal.get("oid", ""), BUCKETS[kind])
        entry["remaining"], entry["remaining_global"] = taken.remaining, taken.remaining_global
        if taken.allowed:
            return None
        self.counters["throttled"] += 1
        who = (
            f"subscription '{self.subscription_id}' and principal '{principal.get('oid')}'"
            if taken.scope == "principal"
            else f"subscription '{self.subscription_id}' (all principals together: the global subscription limit)"
        )
        return Response(
            429,
            {
                "error": {
                    "code": "SubscriptionRequestsThrottled",
                    "message": f"Number of {BUCKETS[kind]} requests for {who} exceeded the limit. Please try again "
                    f"after '{max(1, round(taken.wait))}' seconds.",
                }
            },
            retry_after_headers(taken.wait, self.config.time_scale),
        )

    def _fault(self, kind: str, method: str, path: str) -> Response | None:
        picked = self.faults.pick(kind, method, path)
        if picked is None:
            return None
        outcome, retry_after = picked
        self.counters["faults"] += 1
        if outcome == "drop":
            return Response(0, drop=True)
        if outcome == "fail-async":
            self._fail_next_op = True
            return None
        status = int(outcome)
        codes = {
            429: "TooManyRequests",
            500: "InternalServerError",
            503: "ServiceUnavailable",
            409: "Conflict",
            412: "PreconditionFailed",
            502: "BadGateway",
        }
        headers = retry_after_headers(
            retry_after if retry_after is not None else 1.0 * self.config.time_scale, self.config.time_scale
        )
        if (status != 429 and retry_after is None) or retry_after == NO_HINT:
            headers = {}
        return Response(
            status,
            {"error": {"code": codes.get(status, "InjectedFault"), "message": f"Fault injected by armsim ({status})."}},
            headers,
        )
