"""The schedule: reminder ids by send time, and the lease set of released ones.

- :meth:`Schedule.claim` moves due members into the lease set, scored by the
  lease's expiry, in one script: two schedulers never claim the same member;
- :meth:`Schedule.hand_over` turns the scheduler's short lease into the
  redelivery lease once the members are enqueued;
- :meth:`Schedule.done` removes a member's lease once a worker handled it;
- :meth:`Schedule.reap` puts expired leases back in the schedule, due now (a
  scheduler that died before enqueueing, or a Dramatiq message lost).

A member is a reminder id, or ``<reminder id>:r`` for a receipt check.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import redis

from ..clock import from_epoch
from .keys import Keys
from .scripts import lua


class Schedule:
    """The schedule and lease sorted sets of one deployment."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys
        self._claim = lua(__package__, "claim")
        self._reap = lua(__package__, "reap")

    @property
    def _sets(self) -> tuple[str, str]:
        return self.keys.schedule, self.keys.lease

    def claim(self, now: int, limit: int, lease_until: int) -> list[str]:
        """Up to ``limit`` members due at ``now``, leased until ``lease_until``."""
        members = self._claim(self.client, self._sets, [now, limit, lease_until])
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    def hand_over(self, members: Sequence[str], until: int) -> None:
        """Extend the leases of ``members`` (still leased) to ``until``."""
        if members:
            self.client.zadd(self.keys.lease, dict.fromkeys(members, until), xx=True)

    def done(self, member: str) -> None:
        """A worker handled ``member``: its lease goes."""
        self.client.zrem(self.keys.lease, member)

    def reap(self, now: int, limit: int = 10_000) -> int:
        """Return leases expired at ``now`` to the schedule; how many."""
        return int(self._reap(self.client, self._sets, [now, limit]))

    def next_due(self) -> datetime | None:
        """When the earliest member is due, or None when the schedule is empty."""
        first = self.client.zrange(self.keys.schedule, 0, 0, withscores=True)
        return None if not first else from_epoch(float(first[0][1]))

    def leased(self) -> int:
        """How many members are leased (released, not yet handled)."""
        return int(self.client.zcard(self.keys.lease))
