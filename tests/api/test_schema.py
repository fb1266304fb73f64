"""Schemathesis against /openapi.json, in process: no generated request gets a 500, and
no response strays from the schema the API publishes (bounded examples per operation).

Driven with hypothesis directly (schemathesis' pytest plugin does not load under this
pytest), one property per operation; every operation's failure is reported together.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.api.conftest import Api

EXAMPLES = 12


@schemathesis.check
def no_server_fault(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """No 5xx but the documented 503 (database or projections not available)."""
    if response.status_code >= 500 and response.status_code != 503:
        raise AssertionError(f"{response.status_code}: {response.text[:500]}")


def test_no_request_gets_a_500_or_an_answer_outside_the_schema(api: Api, tree) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api.client.app)
    headers = {"Authorization": f"Bearer {api.token()}"}
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case) -> None:
            if isinstance(case.query, dict) and "min_position" in case.query:
                case.query["wait_ms"] = 0  # a position far ahead: answer 503 at once
            case.call_and_validate(
                headers=headers, checks=[no_server_fault, response_schema_conformance]
            )

        try:
            check()
        except Exception as failure:  # every operation's failure, reported together
            failures[operation.label] = str(failure)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
