"""The Dramatiq internals ``enqueue_many`` relies on, checked against the
installed Dramatiq: it must leave Redis exactly as ``RedisBroker.enqueue``
does, and a real worker must run what it enqueued. When an upgrade changes
the broker's enqueue script or its arguments, this fails before anything is
lost (the dependency is pinned to the minor version besides)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from reminders.settings import Settings
from workers.broker import ACTOR, QUEUE, build_broker, dispatch_message, enqueue_many


@pytest.fixture
def broker(settings: Settings) -> Iterator[RedisBroker]:
    built = build_broker(settings)
    yield built
    built.close()
    built.client.connection_pool.disconnect()


def snapshot(client: redis.Redis, namespace: str) -> tuple[int, list[str]]:
    """How many messages wait in the queue, and their (decoded) actors and args."""
    ids: list[bytes] = client.lrange(f"{namespace}:{QUEUE}", 0, -1)  # type: ignore[assignment]
    bodies: list[bytes | None] = client.hmget(f"{namespace}:{QUEUE}.msgs", ids) if ids else []  # type: ignore[assignment]
    decoded = [dramatiq.Message.decode(body) for body in bodies if body is not None]
    return len(ids), sorted(f"{m.actor_name}:{m.queue_name}:{list(m.args)}" for m in decoded)


def test_enqueue_many_leaves_redis_as_enqueue_does(
    broker: RedisBroker, redis_client: redis.Redis
) -> None:
    namespace = broker.namespace
    broker.enqueue(dispatch_message(["a-1", "a-2"]))
    broker.enqueue(dispatch_message(["a-3"]))
    by_enqueue = snapshot(redis_client, namespace)
    redis_client.delete(f"{namespace}:{QUEUE}", f"{namespace}:{QUEUE}.msgs")

    assert enqueue_many(broker, redis_client, ["a-1", "a-2", "a-3"], per_message=2) == 2

    assert (
        snapshot(redis_client, namespace)
        == by_enqueue
        == (
            2,
            [f"{ACTOR}:{QUEUE}:[['a-1', 'a-2']]", f"{ACTOR}:{QUEUE}:[['a-3']]"],
        )
    )


def test_a_real_worker_runs_what_enqueue_many_enqueued(broker: RedisBroker) -> None:
    seen: list[str] = []

    def dispatch(members: list[str]) -> None:
        seen.extend(members)

    dramatiq.Actor(
        dispatch, broker=broker, actor_name=ACTOR, queue_name=QUEUE, priority=0, options={}
    )
    members = [f"m-{i}" for i in range(50)]
    enqueue_many(broker, broker.client, members, per_message=7)
    worker = dramatiq.Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        give_up = time.monotonic() + 30
        while len(seen) < len(members) and time.monotonic() < give_up:
            time.sleep(0.01)
        broker.join(QUEUE, timeout=10_000)
    finally:
        worker.stop()
    assert sorted(seen) == sorted(members)
