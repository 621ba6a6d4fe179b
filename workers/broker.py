"""The Dramatiq broker, built from settings in one place.

Every Dramatiq key lives under ``<REMINDERS_KEY_PREFIX>dramatiq``, so two
deployments (or two test runs) on one Redis never see each other's queues.
Nothing here runs at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import default_middleware

if TYPE_CHECKING:
    from config.settings import Settings

QUEUE = "reminders"
ACTOR = "dispatch"


def build_broker(settings: Settings) -> RedisBroker:
    """A Redis broker on ``settings.redis_url``, with Prometheus when asked."""
    middleware = [m() for m in default_middleware]
    if settings.worker_metrics:
        from dramatiq.middleware.prometheus import Prometheus

        middleware.append(Prometheus())
    broker = RedisBroker(
        url=settings.redis_url,
        namespace=f"{settings.key_prefix}dramatiq",
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
    return broker


def dispatch_message(member: str) -> dramatiq.Message[None]:
    """The message that asks a worker to dispatch one schedule member
    (a reminder id, or a receipt check): nothing personal in it."""
    return dramatiq.Message(
        queue_name=QUEUE, actor_name=ACTOR, args=(member,), kwargs={}, options={}
    )
