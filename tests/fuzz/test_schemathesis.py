"""Schemathesis against the OpenAPI document: positive and negative cases for every operation, with the key.

Checks: no 5xx, answers conform to the documented status codes, content types and schemas, invalid data is
rejected (4xx), and requests without the key are refused.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from poolkeeper.edge.limits import MAX_BODY_BYTES
from poolkeeper.edge.openapi import document
from tests.fuzz.conftest import KEY, Target, assert_clean, examples

CI_EXAMPLES = 40  # per operation; 7 operations

schema = schemathesis.openapi.from_dict(document())


@schema.parametrize()
@settings(max_examples=examples(CI_EXAMPLES), deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_every_operation_against_its_document(case: schemathesis.Case, target: Target) -> None:
    response = case.call(base_url=target.url, headers={"x-functions-key": KEY}, timeout=120)
    target.count("schemathesis")
    assert "Traceback" not in response.text
    if response.status_code == 413:  # a rejection schemathesis's negative-data check does not list; check it here
        assert len(response.request.body or b"") > MAX_BODY_BYTES and "error" in response.json()
        return
    # a schema-valid body may still be refused for what it means (an unknown binding, a resource id that does not
    # parse): the document bounds shapes, the handlers judge meaning — so "valid data is accepted" does not apply
    case.validate_response(response, excluded_checks=[positive_data_acceptance])


def test_schemathesis_ran_and_changed_nothing(target: Target) -> None:
    assert target.sent.get("schemathesis", 0) >= 100
    assert_clean(target)
