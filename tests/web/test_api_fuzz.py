"""A property-based fuzz of the agency API from its own OpenAPI schema
(Schemathesis strategies driven by Hypothesis): no generated request, valid
or not, gets a 500, and every refusal is a problem document."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import requests
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from schemathesis.generation import GenerationMode

from .conftest import Web

EXAMPLES_PER_OPERATION = 20


def test_no_generated_request_gets_a_server_error(make_web: Callable[..., Web]) -> None:
    web = make_web(api_rate_per_s=100_000.0, api_burst=1_000_000)
    _, key = web.core.api_keys.create("saaq", "fuzz")
    spec = requests.get(web.url + "/v1/openapi.json", timeout=10).json()
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {key}"}
    operations = [cast(Any, result).ok() for result in schema.get_all_operations()]
    assert len(operations) == 9
    seen: dict[int, int] = {}

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            strategy = operation.as_strategy(generation_mode=mode)

            @hsettings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=strategy)
            def fuzz(case: Any) -> None:
                params = case.path_parameters or {}
                # Mostly the key's own agency, so bodies get past the 403.
                if "agency" in params and not str(params["agency"]).startswith("z"):
                    params["agency"] = "saaq"
                answer = case.call(base_url=web.url, headers=headers, timeout=30)
                seen[answer.status_code] = seen.get(answer.status_code, 0) + 1
                assert answer.status_code < 500, (case.method, case.path, answer.text[:300])
                if answer.status_code >= 400:
                    kind = (answer.headers.get("content-type") or [""])[0]
                    assert kind.startswith("application/problem+json"), answer.text[:200]

            fuzz()
    # The fuzz reached the handlers, not only the refusals.
    assert any(200 <= status < 300 for status in seen), seen
    assert 422 in seen, seen
