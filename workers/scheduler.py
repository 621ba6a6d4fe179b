"""The scheduler: releases due reminders from the schedule to Dramatiq.

One step (the schedule's operations are in :mod:`reminders.redis.schedule`):

1. claim: one Lua script moves up to ``batch`` due members from the schedule
   into the lease set, scored by the lease's expiry, so two schedulers never
   claim the same member;
2. enqueue: Dramatiq messages of up to ``per_message`` members each
   (payload: the members only), all in one pipeline through the broker's
   own enqueue script; a worker sends a message's members concurrently;
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

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from dramatiq.brokers.redis import RedisBroker
from redis.exceptions import RedisClusterException

from reminders.callbacks import Relay
from reminders.clock import Clock, precise_epoch, to_epoch
from reminders.errors import ConfigurationError
from reminders.redis.errors import misconfiguration
from reminders.redis.schedule import Claimed, Schedule
from reminders.retention import Retention, SweepResult

from .broker import QUEUE, enqueue_many

log = logging.getLogger("reminders.scheduler")


@dataclass(frozen=True, slots=True)
class Step:
    released: int
    reaped: int
    relayed: int = 0
    more: bool = False
    """A shard had more due than one step takes: step again at once."""


class Scheduler:
    """Releases due members; run :meth:`run` in a process, or :meth:`step`."""

    def __init__(
        self,
        *,
        schedule: Schedule,
        broker: RedisBroker,
        clock: Clock,
        relay: Relay | None = None,
        batch: int = 1000,
        per_message: int = 1,
        lease_s: int = 60,
        poll_s: float = 1.0,
        tick_s: float = 0.0,
        redelivery_s: int = 600,
        retention: Retention | None = None,
        retention_every_s: float = 10.0,
    ) -> None:
        self.schedule = schedule
        self.broker = broker
        self.clock = clock
        self.relay = relay
        """Status callbacks: one relay step after each release."""
        self.batch = batch
        self.per_message = per_message
        """Members per Dramatiq message (a worker sends them concurrently)."""
        self.lease_s = lease_s
        self.poll_s = poll_s
        self.tick_s = min(tick_s, poll_s)
        self.redelivery_s = redelivery_s
        self.stopping = threading.Event()
        self._last_reap = 0.0
        self.retention = retention
        """Its sweep takes one step every ``retention_every_s`` of idle time."""
        self.retention_every_s = retention_every_s
        self._last_sweep = time.monotonic()

    def claim(self) -> Claimed:
        """Due members from every shard, ``batch`` in all (spread evenly)."""
        now = precise_epoch(self.clock.now())  # send times are to the millisecond
        per_shard = -(-self.batch // self.schedule.keys.shards)
        return self.schedule.claim(now, per_shard, int(now) + self.lease_s)

    def enqueue(self, members: Sequence[str]) -> None:
        """Dramatiq messages of up to ``per_message`` members, in one round
        trip to the broker that also rings the idle workers' doorbell. A
        small release stays in one message: its worker sends the members
        concurrently, and splitting it cost more (a round trip per step per
        message) than it saved (measured: lateness and CPU at 500/s)."""
        enqueue_many(self.broker, self.broker.client, members, self.per_message)

    def clear(self, members: Sequence[str]) -> None:
        """Hand the members over to the workers: the scheduler's short lease
        becomes the redelivery lease, which the dispatcher removes when it
        has handled the member."""
        self.schedule.hand_over(members, to_epoch(self.clock.now()) + self.redelivery_s)

    def reap(self) -> int:
        """Return expired leases to the schedule; how many."""
        return self.schedule.reap(to_epoch(self.clock.now()))

    def step(self) -> Step:
        """Reap (at most every few seconds), then release one batch."""
        reaped = 0
        if time.monotonic() - self._last_reap >= min(5.0, self.lease_s / 2):
            reaped = self.reap()
            self._last_reap = time.monotonic()
        claimed = self.claim()
        members = claimed.members
        if members:
            self.enqueue(members)
            self.clear(members)
        relayed = self.relay.step() if self.relay is not None else 0
        return Step(len(members), reaped, relayed, claimed.more)

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
        """Until the next due member, at least the tick and at most the
        poll interval."""
        first = self.schedule.next_due()
        if first is None:
            return self.poll_s
        wait = (first - self.clock.now()).total_seconds()
        return max(self.tick_s, min(self.poll_s, wait))

    def run(self) -> None:
        """Release until :attr:`stopping` is set; survive Redis going away."""
        log.info("scheduler started queue=%s batch=%d", QUEUE, self.batch)
        backoff = 0.1
        while not self.stopping.is_set():
            try:
                step = self.step()
                backoff = 0.1
                if step.released or step.reaped or step.relayed:
                    log.info(
                        "released=%d reaped=%d relayed=%d",
                        step.released,
                        step.reaped,
                        step.relayed,
                    )
                if not step.more:
                    self.sweep()
                    self.stopping.wait(self.sleep_s())
            except (redis.RedisError, RedisClusterException) as err:
                problem = misconfiguration(err)
                if problem is not None:
                    # Retrying cannot help: say what is wrong, once, and stop.
                    log.error("%s; the scheduler stops", problem)
                    raise ConfigurationError(problem) from err
                log.warning(
                    "redis unavailable (%s); retrying in %.1fs", type(err).__name__, backoff
                )
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
        log.info("scheduler stopped")
