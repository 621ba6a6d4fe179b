"""The schedule: reminder ids by send time, and the lease set of released
ones, in each shard (see :mod:`reminders.redis.keys`).

- :meth:`Schedule.claim` moves due members of every shard into that shard's
  lease set, scored by the lease's expiry, one script per shard: two
  schedulers never claim the same member, and every scheduler claims from
  every shard, so no shard waits on one scheduler;
- :meth:`Schedule.hand_over` turns the scheduler's short lease into the
  redelivery lease once the members are enqueued;
- :meth:`Schedule.done` removes a member's lease once a worker handled it
  (a write that records the outcome ends it in the same step);
- :meth:`Schedule.reap` puts expired leases back in the schedule, due now (a
  scheduler that died before enqueueing, or a Dramatiq message lost).

A member is a reminder id, or ``<reminder id>:r`` for a receipt check; its
shard is its deadline's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from ..clock import from_epoch
from .keys import Keys
from .scripts import lua, run_pipeline


@dataclass(frozen=True, slots=True)
class Claimed:
    """What one claim took: the members, and whether a shard had more due."""

    members: list[str]
    more: bool


class Schedule:
    """The schedule and lease sorted sets of one deployment, over its shards."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._claim = lua(__package__, "claim")
        self._reap = lua(__package__, "reap")

    def shard_of(self, member: str) -> int:
        """The shard of a member (its deadline tag comes first)."""
        return self.keys.shard_of(member)

    def claim(self, now: float, limit: int, lease_until: int) -> Claimed:
        """Due members at ``now`` from every shard (up to ``limit`` from
        each), leased until ``lease_until``; one round trip per node."""
        sets = self.keys.schedules

        def fill(pipe: Any) -> None:
            for names in sets:
                self._claim.queue(pipe, names, [now, limit, lease_until])

        replies = run_pipeline(self.client, [self._claim], fill)
        members = [_text(m) for found in replies for m in found]
        return Claimed(members, any(len(found) >= limit for found in replies))

    def hand_over(self, members: Sequence[str], until: int) -> None:
        """Extend the leases of ``members`` (still leased) to ``until``."""
        if not members:
            return
        by_shard: dict[int, list[str]] = {}
        for member in members:
            by_shard.setdefault(self.shard_of(member), []).append(member)
        pipe = self.client.pipeline(transaction=False)
        for shard, group in by_shard.items():
            pipe.zadd(self.keys.lease(shard), dict.fromkeys(group, until), xx=True)
        pipe.execute()

    def done(self, member: str) -> None:
        """A worker handled ``member``: its lease goes."""
        self.client.zrem(self.keys.lease(self.shard_of(member)), member)

    def reap(self, now: int, limit: int = 10_000) -> int:
        """Return leases expired at ``now`` to the schedule; how many."""

        def fill(pipe: Any) -> None:
            for names in self.keys.schedules:
                self._reap.queue(pipe, names, [now, limit])

        return sum(int(n) for n in run_pipeline(self.client, [self._reap], fill))

    def next_due(self) -> datetime | None:
        """When the earliest member of any shard is due, or None when the
        schedule is empty."""
        pipe = self.client.pipeline(transaction=False)
        for schedule, _ in self.keys.schedules:
            pipe.zrange(schedule, 0, 0, withscores=True)
        firsts = [float(found[0][1]) for found in pipe.execute() if found]
        return from_epoch(min(firsts)) if firsts else None

    def leased(self) -> int:
        """How many members are leased (released, not yet handled)."""
        pipe = self.client.pipeline(transaction=False)
        for _, lease in self.keys.schedules:
            pipe.zcard(lease)
        return sum(int(n) for n in pipe.execute())

    def pending(self) -> int:
        """How many members wait in the schedule (all shards)."""
        pipe = self.client.pipeline(transaction=False)
        for schedule, _ in self.keys.schedules:
            pipe.zcard(schedule)
        return sum(int(n) for n in pipe.execute())


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)
