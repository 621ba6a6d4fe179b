"""Provider rate limits shared by every worker process, through Redis.

Dramatiq's :class:`BucketRateLimiter` on its Redis backend: at most ``rate``
acquisitions per one-second bucket per provider account, counted in Redis so
that the limit holds across processes and machines. A worker waits for room
(in short sleeps) rather than failing the message; after ``max_wait_s`` it
gives up with :class:`RateLimited` and Dramatiq retries the message later.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import redis
from dramatiq.rate_limits import BucketRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

from reminders.redis.keys import Keys


class RateLimited(Exception):
    """No room under the provider's rate limit for ``max_wait_s``."""


@dataclass(frozen=True, slots=True)
class Limit:
    provider: str
    per_s: int


class ProviderLimiter:
    """Waits for a slot under each channel's provider limit."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        keys: Keys,
        limits: Mapping[str, Limit],
        max_wait_s: float = 30.0,
    ) -> None:
        backend = RedisBackend(client=client)
        self.max_wait_s = max_wait_s
        self._buckets = {
            channel: BucketRateLimiter(
                backend, keys.rate(limit.provider), limit=limit.per_s, bucket=1000
            )
            for channel, limit in limits.items()
            if limit.per_s > 0
        }

    def wait(self, channel: str) -> None:
        bucket = self._buckets.get(channel)
        if bucket is None:
            return
        give_up = time.monotonic() + self.max_wait_s
        while True:
            with bucket.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    return
            if time.monotonic() >= give_up:
                raise RateLimited(channel)
            time.sleep(0.02)
