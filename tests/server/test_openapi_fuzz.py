"""Schemathesis: a few hundred generated requests from /openapi.json, and no 5xx among them."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

pytestmark = pytest.mark.slow
AUTH = {"Authorization": "Bearer test-key"}


def test_generated_requests_never_get_a_server_error(api_server):
    schema = schemathesis.openapi.from_url(api_server.url + "openapi.json", headers=AUTH)
    sent: dict[str, int] = {}
    statuses: dict[int, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()

        # The peers' dialects are thin translations over the same service: fewer examples each.
        peer = operation.path.startswith(("/api/v1/", "/v1/ranking", "/v1/reranking", "/v1/score"))
        examples = (60 if peer else 300) if operation.method.upper() == "POST" else 5

        @given(case=operation.as_strategy())
        @settings(
            max_examples=examples, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def check(case):
            response = case.call(headers=AUTH, timeout=60)
            case.validate_response(response, checks=[not_a_server_error])
            sent[case.operation.label] = sent.get(case.operation.label, 0) + 1
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

        check()
    assert sent["POST /v1/rerank"] >= 250 and sent["POST /v1/rerank/upload"] >= 50, sent
    for route in (
        "/api/v1/services/rerank/text-rerank/text-rerank",
        "/v1/ranking",
        "/v1/reranking",
        "/v1/score",
    ):
        assert sent[f"POST {route}"] >= 30, sent
    assert api_server.process.poll() is None  # still running
    assert statuses.get(200, 0) >= 20, statuses  # plenty reached the engine, not just the validators
