"""Wiring a worker or a scheduler process from settings.

:func:`build_worker` declares the ``dispatch`` actor on a broker of its own
(never Dramatiq's global one at import) around a :class:`Dispatcher` built
from the same settings as the library. :func:`build_scheduler` builds the
releasing loop. Both take an injectable clock: tests and the demo run weeks
of schedule in seconds with a :class:`reminders.ManualClock`.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlsplit

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker

from channels.compose import Composer
from channels.providers import ChannelSet, build_channels
from channels.templates import Renderer
from reminders.callbacks import Relay
from reminders.clock import Clock
from reminders.lifecycle.sending import RetryPolicy
from reminders.settings import Settings
from reminders.wiring import Core, build_core, signed_links

from .broker import (
    ACTOR,
    CALLBACK_ACTOR,
    CALLBACK_QUEUE,
    QUEUE,
    build_broker,
    callback_message,
)
from .callbacks import CallbackSender
from .dispatch import Dispatcher
from .ratelimit import Limit, ProviderLimiter
from .scheduler import Scheduler

ACTOR_OPTIONS = {
    # Dramatiq's own retries only cover failures around a send (Redis away,
    # rate limit wait exhausted); provider errors are re-planned by us.
    "max_retries": 20,
    "min_backoff": 1_000,
    "max_backoff": 60_000,
    "time_limit": 120_000,
}


@dataclass
class Worker:
    """What a worker process runs: the broker with its actor, and the dispatcher."""

    core: Core
    broker: RedisBroker
    dispatcher: Dispatcher
    channels: ChannelSet
    actor: dramatiq.Actor[[list[str] | str], None]
    callbacks: CallbackSender
    pool: ThreadPoolExecutor
    """Sends the members of one message concurrently."""

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.channels.close()
        self.callbacks.close()
        self.broker.close()
        # Dramatiq's RedisBroker.close() leaves its connection pool open.
        self.broker.client.connection_pool.disconnect()


def composer(settings: Settings) -> Composer:
    host = urlsplit(settings.public_url).hostname or "localhost"
    return Composer(
        renderer=Renderer(),
        links=signed_links(settings),
        organizer_email=settings.email_from or f"rappels@{host}",
        calendar_domain=host,
    )


def limits(settings: Settings, provider: str) -> dict[str, Limit]:
    if provider == "sandbox":
        return {
            c: Limit("sandbox", settings.sandbox_rate_per_s) for c in ("sms", "email", "calendar")
        }
    return {
        "sms": Limit("twilio", settings.twilio_rate_per_s),
        "email": Limit("sendgrid", settings.sendgrid_rate_per_s),
        "calendar": Limit("sendgrid", settings.sendgrid_rate_per_s),
    }


def build_worker(
    settings: Settings,
    *,
    clock: Clock | None = None,
    client: redis.Redis | None = None,
    broker: RedisBroker | None = None,
) -> Worker:
    """A dispatcher and its actor; missing settings fail here, at start-up."""
    core = build_core(settings, client=client, clock=clock, signing=True)
    broker = broker or build_broker(settings)
    text = composer(settings)
    channels = build_channels(
        settings,
        clock=core.clock,
        client=core.client,
        outcomes=core.receipts.record,
        outcomes_many=core.receipts.record_many,
    )
    dispatcher = Dispatcher(
        store=core.store,
        vault=core.vault,
        policies=core.policies,
        channels=channels.channels,
        composer=text,
        clock=core.clock,
        transitions=core.transitions,
        agencies=core.agencies,
        limiter=ProviderLimiter(
            broker.client, keys=core.keys, limits=limits(settings, channels.provider)
        ),
        retry=RetryPolicy(
            base_s=settings.retry_base_s,
            cap_s=settings.retry_cap_s,
            max_attempts=settings.retry_max_attempts,
        ),
        no_receipt_after_s=settings.no_receipt_after_s,
        last_sms_ttl_s=settings.last_sms_ttl_s,
        handled=core.schedule.done,
    )

    pool = ThreadPoolExecutor(
        max_workers=max(1, settings.members_per_message), thread_name_prefix="send"
    )

    def dispatch(members: list[str] | str) -> None:
        # A message of an earlier version carries one member, as a string.
        dispatcher.dispatch_all([members] if isinstance(members, str) else members, pool)

    actor: dramatiq.Actor[[list[str] | str], None] = dramatiq.Actor(
        dispatch,
        broker=broker,
        actor_name=ACTOR,
        queue_name=QUEUE,
        priority=0,
        options=dict(ACTOR_OPTIONS),
    )
    sender = CallbackSender(
        client=core.client,
        keys=core.keys,
        agencies=core.agencies,
        clock=core.clock,
        give_up_s=settings.callback_give_up_s,
    )

    def callback(webhook_id: str) -> None:
        sender.deliver(webhook_id)

    dramatiq.Actor(
        callback,
        broker=broker,
        actor_name=CALLBACK_ACTOR,
        queue_name=CALLBACK_QUEUE,
        priority=10,  # sending reminders comes first
        options={
            # Retried until the sender gives up (REMINDERS_CALLBACK_GIVE_UP_S
            # after the event); the count is only a ceiling.
            "max_retries": 10_000,
            "min_backoff": settings.callback_min_backoff_ms,
            "max_backoff": settings.callback_max_backoff_ms,
            "time_limit": 60_000,
        },
    )
    return Worker(core, broker, dispatcher, channels, actor, sender, pool)


def build_scheduler(
    settings: Settings,
    *,
    clock: Clock | None = None,
    client: redis.Redis | None = None,
    broker: RedisBroker | None = None,
) -> Scheduler:
    """The releasing loop, with a retention sweep for its idle moments and
    the relay of status callbacks."""
    core = build_core(settings, client=client, clock=clock)
    broker = broker or build_broker(settings)
    built = broker

    def enqueue(ids: Sequence[str]) -> None:
        for webhook_id in ids:
            built.enqueue(callback_message(webhook_id))

    relay = Relay(
        client=core.client,
        keys=core.keys,
        store=core.store,
        agencies=core.agencies,
        clock=core.clock,
        enqueue=enqueue,
    )
    return Scheduler(
        schedule=core.schedule,
        broker=broker,
        relay=relay,
        clock=core.clock,
        batch=settings.scheduler_batch,
        per_message=settings.members_per_message,
        lease_s=settings.lease_s,
        poll_s=settings.scheduler_poll_s,
        tick_s=settings.scheduler_tick_s,
        redelivery_s=settings.redelivery_s,
        retention=core.retention(),
        retention_every_s=settings.retention_sweep_s,
    )
