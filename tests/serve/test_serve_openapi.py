"""Property-based: requests generated from the server's own OpenAPI schema (schemathesis,
valid and invalid ones) never get a 5xx, and every answer matches the schema.

Two of schemathesis's checks do not fit an image service and are left out (the requests
are still sent, and must still get no 5xx and a documented answer): "schema-valid data is
accepted" (any bytes are a valid file to the schema, only images are to the service: 422),
and "schema-violating data is rejected" (a multipart part is bytes whatever value was
generated for it, and a batch answers 200 with an error item for each unreadable file)."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason='the REST service needs its extra: pip install -e ".[serve]"')
schemathesis = pytest.importorskip("schemathesis", reason='needs the test extra: pip install -e ".[test]"')
from hypothesis import HealthCheck, settings  # noqa: E402


@pytest.fixture(scope="module")
def api_schema(live_server: str) -> schemathesis.schemas.BaseSchema:
    """The live server's /openapi.json."""
    return schemathesis.openapi.from_url(f"{live_server}/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")
NOT_FOR_IMAGES = [schemathesis.checks.positive_data_acceptance, schemathesis.checks.negative_data_rejection]


@schema.parametrize()
@settings(max_examples=30, deadline=None, database=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case: schemathesis.Case, live_server: str) -> None:
    case.call_and_validate(base_url=live_server, timeout=60, excluded_checks=NOT_FOR_IMAGES)
