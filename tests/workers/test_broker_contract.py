"""The Dramatiq internals ``enqueue_many`` relies on, checked against the
installed Dramatiq: it must leave Redis exactly as ``RedisBroker.enqueue``
does, and a real worker must run what it enqueued. When an upgrade changes
the broker's enqueue script or its arguments, this fails before anything is
lost (the dependency is pinned to the minor version besides)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import dramatiq
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker

from reminders.settings import Settings
from workers.broker import (
    ACTOR,
    DOORBELL_LENGTH,
    QUEUE,
    build_broker,
    dispatch_message,
    doorbell_key,
    enqueue_many,
)


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


def test_the_scheduler_rings_an_idle_consumer_awake(settings: Settings) -> None:
    """An idle dispatch consumer blocks on the doorbell, not on a timer: with
    a one-minute poll it still wakes when ``enqueue_many`` rings, and takes
    the message on its next look."""
    broker = build_broker(settings.model_copy(update={"worker_idle_poll_ms": 60_000}))
    try:
        consumer = broker.consume(QUEUE, prefetch=4, timeout=1000)
        ring = doorbell_key(broker.namespace)
        woke: list[object] = []
        waiting = threading.Thread(target=lambda: woke.append(next(consumer)), daemon=True)
        waiting.start()
        give_up = time.monotonic() + 30
        # The consumer found the queue empty and waits on the doorbell.
        while not any(c.get("cmd") == "blpop" for c in broker.client.client_list()):
            assert time.monotonic() < give_up, "the consumer never waited on the doorbell"
            time.sleep(0.01)
        assert enqueue_many(broker, broker.client, ["r-1", "r-2", "r-3"], per_message=1) == 3
        waiting.join(timeout=30)  # far less than the poll: only the ring wakes it
        assert not waiting.is_alive() and woke == [None]
        assert broker.client.llen(ring) == 2  # one ring per message, one taken
        taken = next(consumer)
        assert taken is not None and taken.args == (["r-1"],)
        consumer.ack(taken)
        consumer.close()
    finally:
        broker.close()
        broker.client.connection_pool.disconnect()


def test_rings_nobody_hears_are_bounded(broker: RedisBroker) -> None:
    """With no worker running, the doorbell keeps at most DOORBELL_LENGTH rings."""
    for start in range(0, 300, 30):
        members = [f"m-{i}" for i in range(start, start + 30)]
        enqueue_many(broker, broker.client, members, per_message=1)
    assert broker.client.llen(doorbell_key(broker.namespace)) == DOORBELL_LENGTH
    assert broker.client.llen(f"{broker.namespace}:{QUEUE}") == 300
