"""armsim can answer 429 with no retry hint at all (the chaos storm uses it): clients must back off on their own."""

from __future__ import annotations

from tests.conftest import SimHandle


def test_a_429_can_come_without_any_retry_hint(tutorial: SimHandle) -> None:
    path = f"/subscriptions/{tutorial.subscription_id}/resourceGroups/myTutorial8/providers/Microsoft.Network/" \
           "loadBalancers/myLoadBalancer"
    tutorial.control("POST", "faults", {"rules": [{"kind": "read", "sequence": [429, 429], "retryHint": False}]})
    bare = tutorial.arm("GET", path)
    assert bare.status_code == 429
    assert "retry-after" not in {k.lower() for k in bare.headers} and "retry-after-ms" not in {
        k.lower() for k in bare.headers}, dict(bare.headers)
    tutorial.control("POST", "faults", {"rules": [{"kind": "read", "sequence": [429]}]})
    hinted = tutorial.arm("GET", path)
    assert hinted.status_code == 429 and "retry-after-ms" in {k.lower() for k in hinted.headers}
    # the SDK (azure-core's retry policy, its own backoff) still gets through a bare 429
    tutorial.control("POST", "faults", {"rules": [{"kind": "read", "sequence": [429], "retryHint": False}]})
    lb = tutorial.clients(retry_backoff_factor=0.01).network.load_balancers.get("myTutorial8", "myLoadBalancer")
    assert lb.name == "myLoadBalancer"
