"""schemathesis against the OpenAPI spec: no request the spec allows (20 examples per
operation), nor one it forbids (negative mode, 4 per operation: wrong types, missing fields,
out-of-range ids), gets a 500. Bounded and deterministic: derandomized, SQLite only, with
alice's token and her project's id in the path so requests reach the routes' code, not only
the 404 of a random project. A server error fails the test (the TestClient raises it). The
multipart operations (image upload, import) and the export jobs are left out: they need real
files and their own tests cover them. The long run, with the stateful phase over a live server,
is `bench/api_fuzz.py`."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from tests.api.conftest import Api


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.mark.parametrize(("mode", "examples"), [(GenerationMode.POSITIVE, 20),
                                               (GenerationMode.NEGATIVE, 4)])
def test_no_server_error(api: Api, mode: GenerationMode, examples: int) -> None:
    schema = schemathesis.openapi.from_dict(api.ok("alice", "GET", "/openapi.json")).exclude(
        path_regex=r"/(import|upload|exports?)(/|$)")
    headers = api.headers("alice")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 30
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            if "project" in (case.path_parameters or {}):
                case.path_parameters["project"] = api.project  # type: ignore[index]
            # through the fixture's client: the app's lifespan (store, job runner) runs once
            request = case.as_transport_kwargs(headers=headers)
            request.pop("cookies", None)  # the API reads none
            response = api.client.request(**request)
            assert response.status_code < 500, (case.as_curl_command(), response.text)

        run()
