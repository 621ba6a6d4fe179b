"""The Dramatiq broker, built from settings in one place.

Every Dramatiq key lives under ``<REMINDERS_KEY_PREFIX>dramatiq``, so two
deployments (or two test runs) on one Redis never see each other's queues.
Nothing here runs at import time.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from dramatiq.middleware import default_middleware

from reminders.redis.keys import Keys
from reminders.settings import Settings

QUEUE = "reminders"
ACTOR = "dispatch"
CALLBACK_QUEUE = "callbacks"
CALLBACK_ACTOR = "callback"


class ReminderBroker(RedisBroker):
    """Dramatiq's Redis broker, its consumers polling an empty queue at
    least every ``idle_poll_ms`` (Dramatiq's backoff grows to the worker's
    idle timeout, which would hold reminders released a few at a time)."""

    def __init__(self, *, idle_poll_ms: int, **options: Any) -> None:
        super().__init__(**options)
        self.idle_poll_ms = idle_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        return super().consume(queue_name, prefetch, min(timeout, self.idle_poll_ms))


def build_broker(settings: Settings) -> RedisBroker:
    """A Redis broker on the broker's plain Redis (``REMINDERS_BROKER_URL``,
    else ``REMINDERS_REDIS_URL``), with Prometheus when asked."""
    middleware = [m() for m in default_middleware]
    if settings.worker_metrics:
        from dramatiq.middleware.prometheus import Prometheus

        middleware.append(Prometheus())
    broker = ReminderBroker(
        idle_poll_ms=settings.worker_idle_poll_ms,
        url=settings.broker_redis_url(),
        namespace=Keys(settings.key_prefix).dramatiq_namespace,
        middleware=middleware,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        heartbeat_timeout=settings.worker_heartbeat_timeout_s * 1000,
        # Maintenance (requeueing the messages of dead workers) runs on 1% of
        # the broker's commands instead of 0.1%, so it happens within seconds.
        maintenance_chance=10_000,
    )
    broker.declare_queue(QUEUE)
    broker.declare_queue(CALLBACK_QUEUE)
    return broker


def dispatch_message(members: Sequence[str]) -> dramatiq.Message[None]:
    """The message that asks a worker to dispatch schedule members (reminder
    ids, or receipt checks), which it sends concurrently: nothing personal
    in it."""
    return dramatiq.Message(
        queue_name=QUEUE, actor_name=ACTOR, args=(list(members),), kwargs={}, options={}
    )


def callback_message(webhook_id: str) -> dramatiq.Message[None]:
    """The message that asks a worker to deliver one status callback."""
    return dramatiq.Message(
        queue_name=CALLBACK_QUEUE,
        actor_name=CALLBACK_ACTOR,
        args=(webhook_id,),
        kwargs={},
        options={},
    )


def queue_length(broker: RedisBroker) -> int:
    """How many messages wait in the dispatch queue (not yet taken by a worker)."""
    return int(broker.client.llen(f"{broker.namespace}:{QUEUE}"))


def enqueue_many(
    broker: RedisBroker, client: redis.Redis, members: Sequence[str], per_message: int = 1
) -> int:
    """Dispatch messages of up to ``per_message`` members each, all in one
    round trip on ``client`` (the broker's own Redis); how many messages.

    :meth:`RedisBroker.enqueue` costs a round trip per message; this runs the
    broker's own enqueue script for each message in one pipeline, with the
    arguments ``enqueue`` gives it. That script and its arguments are Dramatiq
    internals: the dependency is pinned to the minor version this was written
    against, and ``tests/workers/test_broker_contract.py`` fails when they
    change (it compares this path with ``enqueue`` and drains both with a
    real worker).
    """
    pipe = client.pipeline(transaction=False)
    dispatch = broker.scripts["dispatch"]
    namespace = [broker.namespace]
    step = max(1, per_message)
    messages = [
        dispatch_message(members[i : i + step]).copy(
            options={"redis_message_id": str(uuid.uuid4())}
        )
        for i in range(0, len(members), step)
    ]
    for message in messages:
        broker.emit_before("enqueue", message, None)
        args = _enqueue_args(broker, message.options["redis_message_id"], message)
        dispatch(keys=namespace, args=args, client=pipe)
    pipe.execute()
    for message in messages:
        broker.emit_after("enqueue", message, None)
    return len(messages)


def _enqueue_args(broker: RedisBroker, redis_message_id: str, message: Any) -> list[Any]:
    """The arguments of the broker's dispatch script for ``enqueue``, as
    ``RedisBroker._dispatch`` passes them (dramatiq/brokers/redis.py)."""
    return [
        "enqueue",
        current_millis(),
        QUEUE,
        broker.broker_id,
        broker.heartbeat_timeout,
        broker.dead_message_ttl,
        0,  # no maintenance from the scheduler; workers do it
        broker._max_unpack_size(),
        redis_message_id,
        message.encode(),
    ]
