"""Limits shared by every web process through Redis: a token bucket per
agency (requests per second), a daily quota per agency (deadline operations
per UTC day), and counters of failed sign-ins (throttling guessers)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import redis

from ..clock import to_epoch
from .keys import Keys
from .scripts import lua


@dataclass(frozen=True, slots=True)
class Verdict:
    """Allowed, or refused with how long to wait (seconds, rounded up)."""

    allowed: bool
    retry_after_s: int = 0
    why: str = ""


ALLOWED = Verdict(True)


class Limits:
    """Rate limits, quotas and sign-in throttles in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._bucket = lua(__package__, "bucket")

    def take(
        self, name: str, *, now: datetime, rate_per_s: float, burst: int, cost: int = 1
    ) -> Verdict:
        """Take ``cost`` tokens from bucket ``name``."""
        if rate_per_s <= 0:
            return ALLOWED
        now_ms = int(now.timestamp() * 1000)
        taken, wait_ms = self._bucket(
            self.client, [self.keys.bucket(name)], [now_ms, rate_per_s, max(burst, cost), cost]
        )
        if int(taken):
            return ALLOWED
        return Verdict(False, max(1, -(-int(wait_ms) // 1000)), "rate limit")

    def spend(self, name: str, *, now: datetime, amount: int, quota: int) -> Verdict:
        """Count ``amount`` against today's (UTC) quota of ``name``; refused,
        with nothing counted, when it would go over."""
        if quota <= 0 or amount <= 0:
            return ALLOWED
        day = now.strftime("%Y%m%d")
        key = self.keys.quota(name, day)
        pipe = self.client.pipeline(transaction=True)
        pipe.incrby(key, amount)
        pipe.expire(key, 2 * 86400)
        used = int(pipe.execute()[0])
        if used <= quota:
            return ALLOWED
        self.client.decrby(key, amount)
        midnight = (to_epoch(now) // 86400 + 1) * 86400
        return Verdict(False, midnight - to_epoch(now), "daily quota")

    def failures(self, who: str) -> int:
        """Failed sign-ins of ``who`` in the current window."""
        raw = self.client.get(self.keys.throttle(_digest(who)))
        return int(raw or 0) if isinstance(raw, bytes | str | int) else 0

    def fail(self, who: str, *, window_s: int) -> int:
        """Count one failed sign-in of ``who``; the count in the window."""
        key = self.keys.throttle(_digest(who))
        pipe = self.client.pipeline(transaction=True)
        pipe.set(key, 0, ex=window_s, nx=True)  # the window starts at the first failure
        pipe.incr(key)
        return int(pipe.execute()[1])

    def window_left_s(self, who: str) -> int:
        return max(1, int(self.client.ttl(self.keys.throttle(_digest(who)))))


def _digest(who: str) -> str:
    """Throttle keys name a digest: client addresses and account ids stay out."""
    return hashlib.blake2b(who.encode("utf-8", "surrogatepass"), digest_size=10).hexdigest()
