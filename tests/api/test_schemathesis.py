"""Property-based run over every operation of /openapi.json: no input gives a 5xx.

Schemathesis generates requests from the schema (valid and invalid bodies, parameters and
files) and sends them, signed in as an admin, to the application in-process.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

import api.services.plans
import api.services.queue

EXAMPLES = 12


def test_no_operation_answers_5xx(
    client: TestClient, login: Callable[[str], dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    # planning jobs are tested elsewhere; here a POST /plans must only be accepted or refused
    for module in (api.services.plans, api.services.queue):
        monkeypatch.setattr(module, "enqueue_plan", lambda _settings, _plan_id: None)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    headers = login("admin")
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 25

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers={**(case.headers or {}), **headers})
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} -> {response.status_code}: "
                    f"{response.text[:300]}"
                )

        run()
    assert not failures, "\n".join(failures[:20])
