"""The agency API under /v1, over real HTTP (uvicorn on loopback)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
import requests

from reminders.listing import encode_cursor
from reminders.wiring import Core
from tests.conftest import deadline_data, prefixed_keys

from .conftest import Web

PROBLEM = "application/problem+json"


def body(**overrides: Any) -> dict[str, Any]:
    """A deadline body as an agency sends it (no agency, no ref)."""
    data = deadline_data(**overrides)
    del data["agency"], data["ref"]
    return data


def key_of(core: Core, agency: str = "saaq") -> str:
    _, key = core.api_keys.create(agency, "tests")
    return key


class Api:
    """Requests with one agency's key."""

    def __init__(self, web: Web, key: str) -> None:
        self.web = web
        self.headers = {"Authorization": f"Bearer {key}"}

    def __call__(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.web.url + path, headers=headers, timeout=30, **kwargs)


@pytest.fixture
def api(web: Web) -> Api:
    return Api(web, key_of(web.core))


def assert_problem(answer: requests.Response, status: int, slug: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    doc: dict[str, Any] = answer.json()
    assert doc["type"] == f"/v1/problems/{slug}" and doc["status"] == status
    assert doc["title"] and doc["detail"]
    return doc


PATH = "/v1/agencies/saaq/deadlines/permit-2026-00042"


def _is_data(key: bytes) -> bool:
    """Not the bookkeeping of access (key records, rate buckets, quotas)."""
    return not any(part in key for part in (b"{cred:", b":bucket:", b":quota:"))


def data_keys(redis_client: Any, web: Web) -> list[bytes]:
    return [k for k in prefixed_keys(redis_client, web.settings) if _is_data(k)]


def test_put_creates_then_the_same_again_changes_nothing(api: Api) -> None:
    created = api("PUT", PATH, json=body())
    assert created.status_code == 201, created.text
    assert created.json()["created"] is True and len(created.json()["reminders"]) >= 2

    again = api("PUT", PATH, json=body())
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["changed"]) == (False, False)

    read = api("GET", PATH)
    assert read.status_code == 200
    view = read.json()
    assert (view["agency"], view["ref"], view["status"]) == ("saaq", "permit-2026-00042", "active")
    assert view["has_phone"] and "phone" not in json.dumps(view["reminders"])
    assert "+15145550123" not in read.text and "a@example.ca" not in read.text


def test_reschedule_complete_and_cancel(api: Api) -> None:
    api("PUT", PATH, json=body())
    moved = api("POST", PATH + "/reschedule", json={"due": "2026-12-20T17:00:00-05:00"})
    assert moved.status_code == 200 and moved.json()["changed"] is True
    by_date = api("POST", PATH + "/reschedule", json={"due": "2026-12-22"})
    assert by_date.status_code == 200

    done = api("POST", PATH + "/complete")
    assert done.status_code == 200 and done.json()["status"] == "completed"
    closed = api("POST", PATH + "/cancel")
    doc = assert_problem(closed, 409, "deadline-closed")
    assert "completed" in doc["detail"]

    other = "/v1/agencies/saaq/deadlines/other-1"
    api("PUT", other, json=body())
    assert api("POST", other + "/cancel").json()["status"] == "cancelled"


def test_an_unknown_ref_is_a_404_problem_without_the_ref(api: Api) -> None:
    missing = api("GET", "/v1/agencies/saaq/deadlines/a.citizen@example.ca")
    doc = assert_problem(missing, 404, "deadline-not-found")
    assert "example.ca" not in missing.text and doc["detail"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"citizen": {"phone": "514-555"}}, "citizen.phone"),
        ({"due": "2026-12-15T17:00:00"}, "due"),
        ({"title": {"fr": ""}}, "title"),
        ({"action_url": "http://example.ca"}, "action_url"),
        ({"channels": ["fax"]}, "channels"),
        ({"offsets": ["7d", "7d"]}, "offsets"),
        ({"due": "2020-01-01"}, "due"),
    ],
)
def test_a_bad_body_is_a_422_naming_the_field_and_writes_nothing(
    api: Api, web: Web, redis_client: Any, change: dict[str, Any], field: str
) -> None:
    before = prefixed_keys(redis_client, web.settings)
    answer = api("PUT", PATH, json=body(**change))

    slug = "deadline-passed" if change == {"due": "2020-01-01"} else "invalid-request"
    doc = assert_problem(answer, 422, slug)
    assert field in doc["detail"]
    assert "514-555" not in answer.text
    assert data_keys(redis_client, web) == [k for k in before if _is_data(k)]


def test_unknown_fields_and_non_json_are_refused(api: Api) -> None:
    extra = api("PUT", PATH, json={**body(), "agency": "revenu"})
    assert_problem(extra, 422, "invalid-request")
    garbage = api("PUT", PATH, data=b"{not json", headers={"content-type": "application/json"})
    assert_problem(garbage, 422, "invalid-request")


def test_no_key_a_malformed_key_and_a_revoked_key_are_401(web: Web) -> None:
    made, key = web.core.api_keys.create("saaq")
    plain = requests.get(web.url + PATH, timeout=5)
    assert_problem(plain, 401, "unauthenticated")
    assert plain.headers["www-authenticate"] == "Bearer"
    for wrong in ("Bearer nope", "Basic abc", "Bearer rk_" + "0" * 12 + "_" + "a" * 43, "Bearer é"):
        header = {"Authorization": wrong.encode().decode("latin-1")}
        assert_problem(
            requests.get(web.url + PATH, headers=header, timeout=5), 401, "unauthenticated"
        )

    good = {"Authorization": f"Bearer {key}"}
    assert requests.get(web.url + PATH, headers=good, timeout=5).status_code == 404
    web.core.api_keys.revoke(made.key_id)
    revoked = requests.get(web.url + PATH, headers=good, timeout=5)
    doc = assert_problem(revoked, 401, "unauthenticated")
    assert "revoked" in doc["detail"] and key not in revoked.text


def test_a_key_records_when_it_was_last_used(web: Web, api: Api) -> None:
    (listed,) = web.core.api_keys.of_scope("saaq")
    assert listed.last_used_at is None
    api("GET", PATH)
    (used,) = web.core.api_keys.of_scope("saaq")
    assert used.last_used_at is not None


CROSS = [
    ("PUT", "/v1/agencies/saaq/deadlines/permit-2026-00042", body()),
    ("GET", "/v1/agencies/saaq/deadlines/permit-2026-00042", None),
    ("POST", "/v1/agencies/saaq/deadlines/permit-2026-00042/reschedule", {"due": "2026-12-20"}),
    ("POST", "/v1/agencies/saaq/deadlines/permit-2026-00042/complete", None),
    ("POST", "/v1/agencies/saaq/deadlines/permit-2026-00042/cancel", None),
    ("POST", "/v1/agencies/saaq/deadlines/batch", [{"ref": "x-1", **body()}]),
    ("GET", "/v1/agencies/saaq/deadlines", None),
    ("GET", "/v1/agencies/saaq/coverage", None),
    ("PUT", "/v1/agencies/saaq/callback", {"url": "https://evil.example/hook"}),
]


@pytest.mark.parametrize(
    ("method", "path", "payload"), CROSS, ids=[f"{m} {p}" for m, p, _ in CROSS]
)
def test_another_agencys_key_gets_403_and_nothing_is_read_or_written(
    web: Web, redis_client: Any, method: str, path: str, payload: Any
) -> None:
    owner = Api(web, key_of(web.core, "saaq"))
    assert owner("PUT", PATH, json=body()).status_code == 201
    intruder = Api(web, key_of(web.core, "revenu"))
    before = {k: redis_client.dump(k) for k in prefixed_keys(redis_client, web.settings)}

    answer = intruder(method, path, json=payload)

    assert_problem(answer, 403, "forbidden")
    assert "Renouveler" not in answer.text
    after = {k: redis_client.dump(k) for k in prefixed_keys(redis_client, web.settings)}
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    # Only the intruder's own key record (its last use) and its agency's
    # rate bucket may have moved.
    assert not [k for k in changed if _is_data(k)], changed
    assert web.core.service.get("saaq", "permit-2026-00042").status == "active"
    assert web.core.agencies.callback("saaq") is None


def test_an_unregistered_agency_is_refused(web: Web, api: Api) -> None:
    answer = api("PUT", "/v1/agencies/nowhere/deadlines/x", json=body())
    assert_problem(answer, 403, "forbidden")
    (result,) = web.core.service.register_many([deadline_data(agency="nowhere")])
    assert not result.ok
    assert result.error == "agency: 'nowhere' is not a registered agency"


def test_a_batch_of_10000_has_one_result_per_item_in_order(api: Api, web: Web) -> None:
    items: list[dict[str, Any]] = [
        {"ref": f"b-{i}", **body(citizen={"phone": f"+1514555{i % 10_000:04d}"})}
        for i in range(10_000)
    ]
    items[17]["citizen"] = {"phone": "not a phone"}
    items[42]["due"] = "2001-01-01"
    items[9_999] = {"ref": "b-9999"}

    answer = api("POST", "/v1/agencies/saaq/deadlines/batch", json=items)

    assert answer.status_code == 200, answer.text[:500]
    result = answer.json()
    assert (result["accepted"], result["refused"]) == (9_997, 3)
    assert [r["index"] for r in result["results"]] == list(range(10_000))
    refused = {r["index"]: r["error"] for r in result["results"] if not r["ok"]}
    assert set(refused) == {17, 42, 9_999}
    assert refused[17].startswith("citizen.phone")
    assert "not a phone" not in answer.text
    listed = api("GET", "/v1/agencies/saaq/deadlines/b-17")
    assert listed.status_code == 404
    assert api("GET", "/v1/agencies/saaq/deadlines/b-16").status_code == 200


def test_a_batch_over_10000_items_or_over_the_size_cap_is_refused(
    make_web: Callable[..., Web],
) -> None:
    web = make_web(api_max_body_bytes=200_000)
    api = Api(web, key_of(web.core))
    too_many = api("POST", "/v1/agencies/saaq/deadlines/batch", json=[{"ref": "x"}] * 10_001)
    assert too_many.status_code in (413, 422)
    big = api("POST", "/v1/agencies/saaq/deadlines/batch", data=b"[" + b" " * 300_000 + b"]")
    assert_problem(big, 413, "body-too-large")


def test_listing_pages_through_deadlines_by_due_date_with_filters(api: Api) -> None:
    for i in range(7):
        api("PUT", f"/v1/agencies/saaq/deadlines/l-{i}", json=body(due=f"2026-12-{10 + i}"))
    api("POST", "/v1/agencies/saaq/deadlines/l-3/complete")

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = api("GET", "/v1/agencies/saaq/deadlines", params=params).json()
        pages += 1
        seen += [d["ref"] for d in page["deadlines"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"l-{i}" for i in range(7)] and pages == 3

    active = api("GET", "/v1/agencies/saaq/deadlines", params={"status": "completed"}).json()
    assert [d["ref"] for d in active["deadlines"]] == ["l-3"]
    window = api(
        "GET",
        "/v1/agencies/saaq/deadlines",
        params={"due_from": "2026-12-12", "due_to": "2026-12-13"},
    ).json()
    assert [d["ref"] for d in window["deadlines"]] == ["l-2", "l-3"]
    bad = api("GET", "/v1/agencies/saaq/deadlines", params={"cursor": "!!nope"})
    assert_problem(bad, 422, "invalid-request")


def test_listing_pages_through_deadlines_due_within_one_second_in_order(api: Api) -> None:
    """Due instants keep the millisecond; the cursor carries it."""
    for i in (2, 0, 1, 3):
        due = f"2026-12-10T17:00:00.{i * 250:03d}-05:00"
        api("PUT", f"/v1/agencies/saaq/deadlines/ms-{i}", json=body(due=due))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = api("GET", "/v1/agencies/saaq/deadlines", params=params).json()
        seen += [d["ref"] for d in page["deadlines"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["ms-0", "ms-1", "ms-2", "ms-3"]
    for cursor in (encode_cursor(float("nan"), "x"), encode_cursor(float("inf"), "x")):
        bad = api("GET", "/v1/agencies/saaq/deadlines", params={"cursor": cursor})
        assert_problem(bad, 422, "invalid-request")


def test_coverage_of_the_agency(api: Api) -> None:
    api("PUT", PATH, json=body())
    report = api("GET", "/v1/agencies/saaq/coverage").json()
    assert report["in_scope"] == 1 and report["target"] == 0.6
    assert [s["key"] for s in report["by_agency"]] == ["saaq"]
    bad = api("GET", "/v1/agencies/saaq/coverage", params={"start": "yesterday"})
    assert_problem(bad, 422, "invalid-request")


def test_the_rate_limit_answers_429_with_retry_after(make_web: Callable[..., Web]) -> None:
    web = make_web(api_rate_per_s=1.0, api_burst=3)
    api = Api(web, key_of(web.core))
    codes = [api("GET", PATH).status_code for _ in range(5)]
    assert codes[:3] == [404, 404, 404] and codes[-1] == 429
    limited = api("GET", PATH)
    doc = assert_problem(limited, 429, "rate-limited")
    assert int(limited.headers["Retry-After"]) >= 1 and "rate limit" in doc["detail"]
    other = Api(web, key_of(web.core, "revenu"))
    assert other("GET", "/v1/agencies/revenu/deadlines/x").status_code == 404  # its own bucket


def test_the_daily_quota_counts_batch_items(make_web: Callable[..., Web]) -> None:
    web = make_web(api_daily_quota=5)
    api = Api(web, key_of(web.core))
    items = [{"ref": f"q-{i}", **body()} for i in range(4)]
    assert api("POST", "/v1/agencies/saaq/deadlines/batch", json=items).status_code == 200
    over = api("POST", "/v1/agencies/saaq/deadlines/batch", json=items[:2])
    doc = assert_problem(over, 429, "rate-limited")
    assert "quota" in doc["detail"] and int(over.headers["Retry-After"]) > 0
    assert api("GET", "/v1/agencies/saaq/deadlines/q-0").status_code == 200  # reads are free
    web.core.agencies.set_limits("saaq", daily_quota=100)
    assert api("POST", "/v1/agencies/saaq/deadlines/batch", json=items[:2]).status_code == 200


def test_setting_the_callback_answers_its_secret_once(make_web: Callable[..., Web]) -> None:
    web = make_web(callback_allow_http_loopback=True)
    api = Api(web, key_of(web.core))
    refused = api("PUT", "/v1/agencies/saaq/callback", json={"url": "http://agency.example/hook"})
    assert_problem(refused, 422, "invalid-request")
    userinfo = api("PUT", "/v1/agencies/saaq/callback", json={"url": "https://a@b.example/x"})
    assert_problem(userinfo, 422, "invalid-request")

    done = api("PUT", "/v1/agencies/saaq/callback", json={"url": "https://agency.example/hook"})
    assert done.status_code == 200
    secret = done.json()["secret"]
    assert secret.startswith("whsec_")
    assert web.core.agencies.callback("saaq") is not None
    assert secret not in api("GET", PATH).text
    rotated = api("PUT", "/v1/agencies/saaq/callback", json={"url": "http://127.0.0.1:9/hook"})
    assert rotated.status_code == 200 and rotated.json()["secret"] != secret


def test_openapi_and_docs_describe_the_api_in_both_languages(web: Web) -> None:
    spec = requests.get(web.url + "/v1/openapi.json", timeout=5).json()
    paths = spec["paths"]
    assert set(paths) == {
        "/v1/agencies/{agency}/deadlines/{ref}",
        "/v1/agencies/{agency}/deadlines/{ref}/reschedule",
        "/v1/agencies/{agency}/deadlines/{ref}/complete",
        "/v1/agencies/{agency}/deadlines/{ref}/cancel",
        "/v1/agencies/{agency}/deadlines/batch",
        "/v1/agencies/{agency}/deadlines",
        "/v1/agencies/{agency}/coverage",
        "/v1/agencies/{agency}/callback",
    }
    put = paths["/v1/agencies/{agency}/deadlines/{ref}"]["put"]
    assert "Inscrire" in put["summary"] and "Register" in put["summary"]
    assert "examples" in json.dumps(put["requestBody"])
    assert "Français" in spec["info"]["description"] and "English" in spec["info"]["description"]
    docs = requests.get(web.url + "/docs", timeout=5)
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    kind = requests.get(web.url + "/v1/problems/forbidden", timeout=5).json()
    assert kind["status"] == 403 and "another agency" in kind["meaning"]
