"""The one client cache: one set of SDK clients per subscription, whatever the casing of its id."""

from __future__ import annotations

from typing import Any

from poolkeeper.clients import ClientCache


class NoTokens:
    """A credential that is never asked (making clients sends nothing)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        raise AssertionError("no request expected")


def test_one_set_of_clients_per_subscription() -> None:
    cache = ClientCache("https://arm.example", NoTokens())
    a = cache("AAAA-1")
    assert cache("aaaa-1") is a
    assert cache("bbbb-2") is not a
    assert a.arm_endpoint == "https://arm.example" and a.subscription_id == "AAAA-1"
    cache.close()
    assert cache("aaaa-1") is not a  # closed clients are not handed out again
    cache.close()
