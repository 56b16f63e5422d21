"""Hypothesis: hostile requests to every route (paths, methods, flags, keys, bodies, framing) → never a 5xx."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from tests.fuzz.conftest import KEY, RG, Target, assert_clean, check_answer, examples
from tests.fuzz.strategies import requests_

CI_EXAMPLES = 300


def test_hostile_requests_to_every_route(target: Target) -> None:
    sent_before = target.sent.get("routes", 0)

    @settings(max_examples=examples(CI_EXAMPLES), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(req=requests_(target.subscription, RG, KEY))
    def run(req: dict[str, Any]) -> None:
        status, body = target.send(req["method"], req["path"], body=req["body"], headers=req["headers"],
                                   framing=req["framing"])
        target.count("routes")
        what = f"{req['method']} {req['path'][:200]} body={req['body'][:200]!r} framing={req['framing']}"
        check_answer(status, body, what)
        route = req["route"]
        if req["exact_route"] and req["method"] == route.method and route.auth != "anonymous" \
                and req["auth"] in ("none", "wrong"):
            assert status == 401, f"the function key is not enforced: {status} for {what}"
        if 200 <= status < 300 and route.body is not None:
            assert req["auth"] in ("header", "query"), what

    run()
    assert target.sent["routes"] - sent_before >= examples(CI_EXAMPLES)
    assert_clean(target)
