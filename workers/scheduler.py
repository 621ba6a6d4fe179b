"""The scheduler: releases due reminders from the schedule to Dramatiq.

One step:

1. claim: one Lua script moves up to ``batch`` due members from the schedule
   into the lease set, scored by the lease's expiry, so two schedulers never
   claim the same member;
2. enqueue: one Dramatiq message per member (payload: the member only), all
   in one pipeline through the broker's own enqueue script;
3. hand over: the members' leases are extended to ``redelivery_s``; the
   dispatcher removes a member from the lease set once it has handled it.

A scheduler that dies between 1 and 3 leaves its members in the lease set;
the reaper (every scheduler runs it) puts expired leases back in the schedule,
due now. So does a Dramatiq message lost on the way (a worker that loses
Redis while holding prefetched messages keeps them in its own unacknowledged
set, which Dramatiq only requeues once that worker is dead): the member is
released again after ``redelivery_s``. Either way a member may be enqueued
twice; the dispatcher's state machine makes the second one a no-op.
(The design asked the scheduler to clear the lease after enqueueing; the
restart test lost a reminder that way, so the worker clears it instead.)

Dramatiq's ``delay`` is never used to hold a reminder: Dramatiq only sees work
that is due.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from redis.exceptions import NoScriptError

from reminders.clock import Clock
from reminders.keys import Keys
from reminders.retention import Retention, SweepResult

from .broker import QUEUE, dispatch_message

log = logging.getLogger("reminders.scheduler")

# KEYS: schedule, lease. ARGV: now, limit, lease expiry.
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
if #due == 0 then return due end
local leased = {}
for i, member in ipairs(due) do
  leased[2 * i - 1] = ARGV[3]
  leased[2 * i] = member
end
for i = 1, #leased, 7000 do
  redis.call('ZADD', KEYS[2], unpack(leased, i, math.min(i + 6999, #leased)))
end
for i = 1, #due, 7000 do
  redis.call('ZREM', KEYS[1], unpack(due, i, math.min(i + 6999, #due)))
end
return due
"""

# KEYS: schedule, lease. ARGV: now, limit. Expired leases go back, due now;
# a member re-planned meanwhile (already in the schedule) keeps its time.
_REAP = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, member in ipairs(expired) do
  redis.call('ZADD', KEYS[1], 'NX', ARGV[1], member)
  redis.call('ZREM', KEYS[2], member)
end
return #expired
"""


@dataclass(frozen=True, slots=True)
class Step:
    released: int
    reaped: int


class Scheduler:
    """Releases due members; run :meth:`run` in a process, or :meth:`step`."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        broker: RedisBroker,
        clock: Clock,
        batch: int = 1000,
        lease_s: int = 60,
        poll_s: float = 1.0,
        redelivery_s: int = 600,
        retention: Retention | None = None,
        retention_every_s: float = 10.0,
    ) -> None:
        self.client = client
        self.keys = keys
        self.broker = broker
        self.clock = clock
        self.batch = batch
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.redelivery_s = redelivery_s
        self.stopping = threading.Event()
        self._claim_sha = hashlib.sha1(_CLAIM.encode(), usedforsecurity=False).hexdigest()
        self._reap_sha = hashlib.sha1(_REAP.encode(), usedforsecurity=False).hexdigest()
        self._last_reap = 0.0
        self.retention = retention
        """Its sweep takes one step every ``retention_every_s`` of idle time."""
        self.retention_every_s = retention_every_s
        self._last_sweep = time.monotonic()

    def _script(self, sha: str, source: str, *args: Any) -> Any:
        keys = (self.keys.schedule, self.keys.lease)
        try:
            return self.client.evalsha(sha, 2, *keys, *args)
        except NoScriptError:
            self.client.script_load(source)
            return self.client.evalsha(sha, 2, *keys, *args)

    def claim(self) -> list[str]:
        now = self.clock.now().timestamp()
        members = self._script(
            self._claim_sha, _CLAIM, int(now), self.batch, int(now) + self.lease_s
        )
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    def enqueue(self, members: Sequence[str]) -> None:
        """One Dramatiq message per member, in one round trip."""
        pipe = self.client.pipeline(transaction=False)
        dispatch = self.broker.scripts["dispatch"]
        namespace = [self.broker.namespace]
        messages = [
            dispatch_message(member).copy(options={"redis_message_id": str(uuid.uuid4())})
            for member in members
        ]
        for message in messages:
            self.broker.emit_before("enqueue", message, None)
            args = _dispatch_args(self.broker, message.options["redis_message_id"], message)
            dispatch(keys=namespace, args=args, client=pipe)
        pipe.execute()
        for message in messages:
            self.broker.emit_after("enqueue", message, None)

    def clear(self, members: Sequence[str]) -> None:
        """Hand the members over to the workers: the scheduler's short lease
        becomes the redelivery lease, which the dispatcher removes when it
        has handled the member."""
        if members:
            until = int(self.clock.now().timestamp()) + self.redelivery_s
            self.client.zadd(self.keys.lease, dict.fromkeys(members, until), xx=True)

    def reap(self) -> int:
        """Return expired leases to the schedule; how many."""
        now = int(self.clock.now().timestamp())
        return int(self._script(self._reap_sha, _REAP, now, 10_000))

    def step(self) -> Step:
        """Reap (at most every few seconds), then release one batch."""
        reaped = 0
        if time.monotonic() - self._last_reap >= min(5.0, self.lease_s / 2):
            reaped = self.reap()
            self._last_reap = time.monotonic()
        members = self.claim()
        if members:
            self.enqueue(members)
            self.clear(members)
        return Step(len(members), reaped)

    def sweep(self) -> SweepResult | None:
        """A step of the retention sweep when one is due (only when idle:
        releasing due reminders comes first); None when none was due."""
        if self.retention is None or self.retention_every_s <= 0:
            return None
        if time.monotonic() - self._last_sweep < self.retention_every_s:
            return None
        self._last_sweep = time.monotonic()
        try:
            result = self.retention.step()
        except redis.RedisError:
            raise  # the run loop backs off and retries
        except Exception:
            # A chore must never stop the releasing of due reminders.
            log.exception("retention step failed; releasing goes on")
            return None
        if result.purged or result.held:
            log.info("retention purged=%d held=%d", result.purged, result.held)
        return result

    def sleep_s(self) -> float:
        """Until the next due member, at most the poll interval."""
        first = self.client.zrange(self.keys.schedule, 0, 0, withscores=True)
        if not first:
            return self.poll_s
        wait = float(first[0][1]) - self.clock.now().timestamp()
        return max(0.0, min(self.poll_s, wait))

    def run(self) -> None:
        """Release until :attr:`stopping` is set; survive Redis going away."""
        log.info("scheduler started queue=%s batch=%d", QUEUE, self.batch)
        backoff = 0.1
        while not self.stopping.is_set():
            try:
                step = self.step()
                backoff = 0.1
                if step.released or step.reaped:
                    log.debug("released=%d reaped=%d", step.released, step.reaped)
                if step.released < self.batch:
                    self.sweep()
                    self.stopping.wait(self.sleep_s())
            except redis.RedisError as err:
                log.warning(
                    "redis unavailable (%s); retrying in %.1fs", type(err).__name__, backoff
                )
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        log.info("scheduler stopped")


def _dispatch_args(broker: RedisBroker, redis_message_id: str, message: Any) -> list[Any]:
    """The arguments of the broker's dispatch script for ``enqueue``, as
    :meth:`RedisBroker.enqueue` passes them (see dramatiq/brokers/redis.py)."""
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
