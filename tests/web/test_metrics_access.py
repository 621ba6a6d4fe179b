"""/metrics is not public: its own bearer token, or loopback clients only."""

from __future__ import annotations

from collections.abc import Callable

import requests
from pydantic import SecretStr
from starlette.requests import Request

from web.app import _may_scrape

from .conftest import Web


def test_with_a_metrics_token_only_its_bearer_scrapes(make_web: Callable[..., Web]) -> None:
    web = make_web(metrics_token=SecretStr("m" * 32))
    assert requests.get(web.url + "/metrics", timeout=5).status_code == 401
    wrong = {"Authorization": "Bearer " + "x" * 32}
    assert requests.get(web.url + "/metrics", headers=wrong, timeout=5).status_code == 401
    right = {"Authorization": "Bearer " + "m" * 32}
    answer = requests.get(web.url + "/metrics", headers=right, timeout=5)
    assert answer.status_code == 200 and "reminders_coverage_target" in answer.text


def test_without_a_token_only_loopback_clients_scrape(web: Web) -> None:
    assert requests.get(web.url + "/metrics", timeout=5).status_code == 200

    def request_from(host: str) -> Request:
        scope = {"type": "http", "headers": [], "client": (host, 40000), "path": "/metrics"}
        return Request(scope)

    assert _may_scrape(request_from("127.0.0.1"), None)
    assert _may_scrape(request_from("::1"), None)
    assert not _may_scrape(request_from("10.1.2.3"), None)
    assert not _may_scrape(request_from("203.0.113.7"), None)
    assert not _may_scrape(request_from("not-an-address"), None)


def test_with_redis_away_metrics_dashboard_and_api_answer_503(
    make_web: Callable[..., Web], unused_port: int
) -> None:
    web = make_web(redis_url=f"redis://127.0.0.1:{unused_port}/0", staff_token=SecretStr("b" * 32))
    metrics = requests.get(web.url + "/metrics", timeout=30)
    assert metrics.status_code == 503 and "Redis" in metrics.json()["detail"]
    bearer = {"Authorization": "Bearer " + "b" * 32}
    board = requests.get(web.url + "/dashboard/data.json", headers=bearer, timeout=30)
    assert board.status_code == 503
    key = {"Authorization": "Bearer rk_" + "0" * 12 + "_" + "a" * 43}
    api = requests.get(web.url + "/v1/agencies/saaq/deadlines/x", headers=key, timeout=30)
    assert api.status_code == 503
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["type"] == "/v1/problems/unavailable"
