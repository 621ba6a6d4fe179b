"""``reminders.Client`` against the real web app: the same methods as the
service, the same errors."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest

import reminders
from reminders import Client, Deadline
from tests.conftest import deadline_data

from .conftest import Web


@pytest.fixture
def client(web: Web) -> Iterator[Client]:
    _, key = web.core.api_keys.create("saaq")
    with Client(web.url, key) as made:
        yield made


def test_register_get_reschedule_complete_through_the_client(client: Client, web: Web) -> None:
    deadline = Deadline.model_validate(deadline_data())
    receipt = client.register(deadline)
    assert receipt.created and len(receipt.reminders) >= 2
    assert client.register(deadline).changed is False
    assert client.get("saaq", deadline.ref) == web.service.get("saaq", deadline.ref)

    moved = client.reschedule("saaq", deadline.ref, due=date(2026, 12, 20))
    assert moved.changed
    assert client.complete("saaq", deadline.ref).status == "completed"
    with pytest.raises(reminders.DeadlineClosed):
        client.cancel("saaq", deadline.ref)
    with pytest.raises(reminders.DeadlineNotFound):
        client.get("saaq", "nope")


def test_register_many_keeps_the_order_and_each_items_error(client: Client) -> None:
    items: list[Deadline | dict[str, object]] = [
        Deadline.model_validate(deadline_data(ref="m-0")),
        deadline_data(ref="m-1", citizen={"phone": "12"}),
        deadline_data(ref="m-2"),
    ]
    results = client.register_many(items)
    assert [r.index for r in results] == [0, 1, 2]
    assert [r.ok for r in results] == [True, False, True]
    assert results[1].error is not None and results[1].error.startswith("citizen.phone")
    page = client.deadlines("saaq")
    assert sorted(d.ref for d in page.deadlines) == ["m-0", "m-2"]  # same due: by tag
    assert client.coverage("saaq").in_scope == 2


def test_the_client_raises_the_librarys_errors(web: Web) -> None:
    made, key = web.core.api_keys.create("saaq")
    with Client(web.url, key) as client:
        with pytest.raises(reminders.InvalidRequest) as bad:
            client.register(Deadline.model_validate(deadline_data(due="2026-11-21T11:00:00+00:00")))
        assert bad.value.field == "due"
        with pytest.raises(reminders.Forbidden):
            client.get("revenu", "x")
        web.core.api_keys.revoke(made.key_id)
        with pytest.raises(reminders.Unauthenticated):
            client.get("saaq", "x")
    with (
        Client("http://127.0.0.1:9", key, timeout_s=2) as nowhere,
        pytest.raises(reminders.ServiceError),
    ):
        nowhere.get("saaq", "x")


def test_the_client_raises_rate_limited_with_the_wait(make_web: Callable[..., Web]) -> None:
    # Its own app: make_web's apps of one test share one listening socket.
    limited = make_web(api_rate_per_s=0.5, api_burst=1)
    _, other = limited.core.api_keys.create("saaq")
    with Client(limited.url, other) as client:
        with pytest.raises(reminders.DeadlineNotFound):
            client.get("saaq", "x")
        with pytest.raises(reminders.RateLimited) as caught:
            client.get("saaq", "x")
        assert caught.value.retry_after_s >= 1
