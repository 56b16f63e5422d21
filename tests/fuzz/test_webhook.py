"""Hypothesis: hostile Event Grid deliveries to ``/runtime/webhooks/eventgrid?functionName=on_resource_event``.

Every delivery is answered 200 (acted on as a dry run, or ignored with a log line) or a 4xx; never a 5xx.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz.conftest import KEY, RG, Target, assert_clean, check_answer, examples
from tests.fuzz.strategies import deliveries

CI_EXAMPLES = 150
WEBHOOK = "/runtime/webhooks/eventgrid?functionName=on_resource_event"


def test_hostile_event_grid_deliveries(target: Target) -> None:
    before = target.sent.get("webhook", 0)

    @settings(max_examples=examples(CI_EXAMPLES), deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(delivery=deliveries(target.subscription, RG), auth=st.sampled_from(["query", "query", "none", "wrong"]),
           framing=st.sampled_from(["length", "length", "chunked"]))
    def run(delivery: tuple[bytes, dict[str, str]], auth: str, framing: str) -> None:
        body, headers = delivery
        path = WEBHOOK + {"query": f"&code={KEY}", "none": "", "wrong": f"&code={KEY}x"}[auth]
        status, answer = target.send("POST", path, body=body, headers=headers, framing=framing)
        target.count("webhook")
        what = f"{headers} {body[:300]!r}"
        check_answer(status, answer, what)
        if auth != "query":
            assert status == 401, f"the webhook key is not enforced: {status} for {what}"

    run()
    assert target.sent["webhook"] - before >= examples(CI_EXAMPLES)
    assert_clean(target)
