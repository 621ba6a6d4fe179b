"""The Dramatiq broker, built from settings in one place.

Every Dramatiq key lives under ``<REMINDERS_KEY_PREFIX>dramatiq``, so two
deployments (or two test runs) on one Redis never see each other's queues.
Nothing here runs at import time.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

import dramatiq
import redis
from dramatiq.broker import MessageProxy
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.common import current_millis
from dramatiq.errors import ConnectionClosed
from dramatiq.middleware import default_middleware

from reminders.logs import flush_logging
from reminders.redis.keys import Keys
from reminders.redis.packing import packer_options
from reminders.settings import Settings
from reminders.wiring import TIMEOUTS

QUEUE = "reminders"
ACTOR = "dispatch"
CALLBACK_QUEUE = "callbacks"
CALLBACK_ACTOR = "callback"


FULL_WAIT_S = 0.005
"""How long a consumer whose prefetch is full waits before looking again."""
DOORBELL_LENGTH = 64
"""Most rings kept waiting: enough to wake every consumer of a deployment."""


def doorbell_key(namespace: str) -> str:
    """The list the scheduler rings (one element per message it enqueued)
    and idle dispatch consumers block on."""
    return f"{namespace}:{QUEUE}.doorbell"


class ReminderBroker(RedisBroker):
    """Dramatiq's Redis broker, with a doorbell on the dispatch queue.

    Dramatiq's consumers poll an empty queue with a backoff that grows to
    the worker's idle timeout (5 s by default): reminders released a few at
    a time would wait for it, and polling faster costs CPU on every idle
    worker. Here an idle dispatch consumer blocks on a doorbell list that
    the scheduler rings in the round trip that enqueues (``enqueue_many``),
    so it wakes the moment work arrives, and looks at the queue anyway
    every ``idle_poll_ms`` (for messages enqueued without a ring: Dramatiq's
    own retries and requeues). Other queues poll with Dramatiq's backoff,
    capped at ``idle_poll_ms``."""

    def __init__(self, *, idle_poll_ms: int, **options: Any) -> None:
        super().__init__(**options)
        self.idle_poll_ms = idle_poll_ms

    def consume(self, queue_name: str, prefetch: int = 1, timeout: int = 5000) -> Any:
        if queue_name == QUEUE:
            return _DoorbellConsumer(self, queue_name, prefetch, self.idle_poll_ms)
        return super().consume(queue_name, prefetch, min(timeout, self.idle_poll_ms))

    def close(self) -> None:
        super().close()
        # Dramatiq closes a worker process's output pipe next and exits
        # without running exit hooks: the lines still queued go now.
        flush_logging()


class _DoorbellConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer (``_RedisConsumer.__next__``, 2.2), waiting
    on the doorbell instead of sleeping when the queue is empty."""

    def __next__(self) -> MessageProxy | None:
        try:
            while True:
                if self.message_cache:
                    data = self.message_cache.pop(0)
                    if data is None:  # Dramatiq's guard (its issue #266)
                        continue
                    message = dramatiq.Message.decode(data)
                    self.queued_message_ids.add(message.message_id)
                    return MessageProxy(message)
                if self.outstanding_message_count >= self.prefetch:
                    time.sleep(FULL_WAIT_S)  # every message taken is still being handled
                    return None
                self.message_cache = self.broker.do_fetch(
                    self.queue_name, self.prefetch - self.outstanding_message_count
                )
                if not self.message_cache:
                    # At most idle_poll_ms (<= 5 s, a setting's bound): well
                    # inside the broker client's 10 s socket timeout.
                    ring = doorbell_key(self.broker.namespace)
                    self.broker.client.blpop([ring], timeout=self.timeout / 1000)
                    return None
        except redis.ConnectionError as e:
            raise ConnectionClosed(e) from None


def build_broker(settings: Settings) -> RedisBroker:
    """A Redis broker on the broker's plain Redis (``REMINDERS_BROKER_URL``,
    else ``REMINDERS_REDIS_URL``), with Prometheus when asked."""
    middleware = [m() for m in default_middleware]
    if settings.worker_metrics:
        from dramatiq.middleware.prometheus import Prometheus

        middleware.append(Prometheus())
    # The client is built here: Dramatiq builds one from a URL alone and
    # would drop these options.
    client = redis.Redis.from_url(
        settings.broker_redis_url(),
        **TIMEOUTS,
        **packer_options(),
    )
    broker = ReminderBroker(
        idle_poll_ms=settings.worker_idle_poll_ms,
        client=client,
        namespace=Keys(settings.key_prefix).dramatiq_namespace,
        middleware=middleware,
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
    if messages:
        ring = doorbell_key(broker.namespace)
        pipe.lpush(ring, *["1"] * min(len(messages), DOORBELL_LENGTH))
        pipe.ltrim(ring, 0, DOORBELL_LENGTH - 1)
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
