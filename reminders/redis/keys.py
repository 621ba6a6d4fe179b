"""Redis key layout, in one place: every key name is built here.

The data lives in ``shards`` shards (a setting fixed when the deployment is
created, see :meth:`Keys.layout`). Each shard has a Redis Cluster hash tag
of its own, chosen so that the shards spread evenly over the 16,384 slots,
and everything one atomic step touches carries it: a deadline's document,
the shard's schedule and lease set, its audit stream, its coverage counters
and its part of each agency's due index. A deadline's shard comes from its
tag; an address's opt-out and failure marks from the address's keyed hash.

Keys outside the shards are single keys (credentials, buckets, claims), or
share one fixed hash tag when a step writes several of them at once (the
agency registry, a credential and its scope set, the sandbox provider).
"""

from __future__ import annotations

import zlib
from functools import cache, cached_property

from redis.crc import REDIS_CLUSTER_HASH_SLOTS, key_slot

MAX_SHARDS = 1024


@cache
def shard_tags(shards: int) -> tuple[str, ...]:
    """The hash tag of each shard: shard ``n``'s tag hashes to a slot in the
    ``n``-th of ``shards`` equal ranges, so a cluster whose masters hold
    equal slot ranges holds equal numbers of shards."""
    if not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards must be from 1 to {MAX_SHARDS}")
    tags: list[str] = []
    for n in range(shards):
        low = n * REDIS_CLUSTER_HASH_SLOTS // shards
        high = (n + 1) * REDIS_CLUSTER_HASH_SLOTS // shards
        i = 0
        while True:
            candidate = f"{n}" if i == 0 else f"{n}.{i}"
            if low <= key_slot(candidate.encode()) < high:
                break
            i += 1
        tags.append(candidate)
    return tuple(tags)


class Keys:
    """Builds every key under one prefix."""

    def __init__(self, prefix: str, shards: int = 1) -> None:
        self.prefix = prefix
        self.shards = shards
        self.tags = shard_tags(shards)

    # -- shards -----------------------------------------------------------

    def shard_of(self, tag: str) -> int:
        """The shard of a deadline, from its tag (hex digits)."""
        return int(tag[:8], 16) % self.shards

    def address_shard(self, address_hash: str) -> int:
        """The shard of an address's opt-outs and failure marks."""
        return zlib.crc32(address_hash.encode()) % self.shards

    def _in(self, shard: int) -> str:
        return f"{self.prefix}{{{self.tags[shard]}}}"

    @property
    def layout(self) -> str:
        """String: the number of shards the data was created with."""
        return f"{self.prefix}layout"

    def deadline(self, tag: str) -> str:
        """String: a deadline's document (JSON)."""
        return f"{self._in(self.shard_of(tag))}:d:{tag}"

    def deadline_pattern(self, shard: int) -> str:
        """SCAN pattern of one shard's deadline documents."""
        return f"{self._in(shard)}:d:*"

    def schedule(self, shard: int) -> str:
        """Sorted set: a shard's reminder ids scored by send time (epoch s, to
        the ms): each deadline's next planned reminder, and receipt checks."""
        return f"{self._in(shard)}:due"

    def lease(self, shard: int) -> str:
        """Sorted set: a shard's claimed reminder ids scored by lease expiry (epoch s)."""
        return f"{self._in(shard)}:lease"

    @cached_property
    def schedules(self) -> tuple[tuple[str, str], ...]:
        """(schedule, lease set) of every shard, by shard."""
        return tuple((self.schedule(n), self.lease(n)) for n in range(self.shards))

    def audit(self, shard: int) -> str:
        """Stream of every transition of a shard's deadlines and addresses."""
        return f"{self._in(shard)}:audit"

    @cached_property
    def audits(self) -> tuple[str, ...]:
        return tuple(self.audit(n) for n in range(self.shards))

    def optout(self, channel: str, address_hash: str) -> str:
        """Set of the keyed hashes of opted-out addresses for ``channel``, in
        the address's shard."""
        return f"{self._in(self.address_shard(address_hash))}:optout:{channel}"

    def coverage(self, shard: int) -> str:
        """Hash: a shard's coverage counters by name, for names outside the
        packed layout and those written before it (see
        :mod:`reminders.redis.counters`)."""
        return f"{self._in(shard)}:coverage"

    def coverage_packed(self, shard: int) -> str:
        """Hash: a shard's coverage counters, one packed field per agency and
        month (see :mod:`reminders.redis.counters`)."""
        return f"{self._in(shard)}:cov"

    def address_failed(self, channel: str, address_hash: str) -> str:
        """String with a TTL: a provider reported this address invalid or
        unreachable (the code); it is not tried again until it expires."""
        shard = self.address_shard(address_hash)
        return f"{self._in(shard)}:addrfail:{channel}:{address_hash}"

    def last_sms(self, phone_hash: str) -> str:
        """String: the reminder id of the latest SMS sent to a number (by hash)."""
        return f"{self.prefix}lastsms:{phone_hash}"

    @property
    def retention_cursor(self) -> str:
        """String: where the retention sweep stands (shard, agency, rank)."""
        return f"{self.prefix}retention:cursor"

    @property
    def retention_lock(self) -> str:
        """String (short TTL): held by the one process sweeping right now."""
        return f"{self.prefix}retention:lock"

    # The sandbox provider's keys share one slot (a test and demo stand-in).

    @property
    def sandbox_accepted(self) -> str:
        """Hash (sandbox provider): provider id -> "<reminder id> <epoch ms>"
        of each message accepted (the provider's own log)."""
        return f"{self.prefix}{{sandbox}}:accepted"

    @property
    def sandbox_receipts(self) -> str:
        """Sorted set (sandbox provider): pending receipts by due time, ms."""
        return f"{self.prefix}{{sandbox}}:receipts"

    @property
    def sandbox_outage(self) -> str:
        """String (sandbox provider): epoch s until which every send fails."""
        return f"{self.prefix}{{sandbox}}:outage"

    def sandbox_tries(self, reminder_id: str, channel: str) -> str:
        """Counter (sandbox provider): failed tries of a transient recipient."""
        return f"{self.prefix}{{sandbox}}:tries:{reminder_id}:{channel}"

    def rate(self, provider: str) -> str:
        """Prefix of the provider's rate-limit buckets (Dramatiq's limiter)."""
        return f"{self.prefix}rate:{provider}"

    @property
    def dramatiq_namespace(self) -> str:
        """Namespace of every Dramatiq key (queues, acks, heartbeats)."""
        return f"{self.prefix}dramatiq"

    def agency(self, slug: str) -> str:
        """Hash: a registered agency (names, limits, callback); slugs are
        ``[a-z0-9-]`` only, so they cannot break the layout."""
        return f"{self.prefix}{{agencies}}:{slug}"

    @property
    def agencies(self) -> str:
        """Set: the registered agencies' slugs."""
        return f"{self.prefix}{{agencies}}"

    @property
    def agencies_with_callback(self) -> str:
        """Sorted set: the agencies that have a status callback URL, scored by
        when (Redis server time, ms) it was set: earlier events are not sent."""
        return f"{self.prefix}{{agencies}}:callback"

    def agency_due(self, slug: str, shard: int) -> str:
        """Sorted set: a shard's part of the agency's deadline tags by due
        time, epoch s (API listing, retention, recount)."""
        return f"{self._in(shard)}:agency:{slug}:due"

    def credential(self, kind: str, key_id: str) -> str:
        """Hash: an API key or staff token (its keyed hash, scope, label, times)."""
        return f"{self.prefix}{{cred:{kind}}}:{key_id}"

    def credentials_of(self, kind: str, scope: str) -> str:
        """Set: the ids of the credentials of one scope (an agency, or all)."""
        return f"{self.prefix}{{cred:{kind}}}:scope:{scope}"

    def bucket(self, name: str) -> str:
        """Hash: a token bucket (API rate limit)."""
        return f"{self.prefix}bucket:{name}"

    def quota(self, name: str, day: str) -> str:
        """Counter: operations of one UTC day (API quota)."""
        return f"{self.prefix}quota:{name}:{day}"

    def throttle(self, digest: str) -> str:
        """Counter with a TTL: failed sign-ins of one client or account."""
        return f"{self.prefix}throttle:{digest}"

    def callback(self, webhook_id: str) -> str:
        """String: the payload of one status callback, until delivered or expired."""
        return f"{self.prefix}cb:{webhook_id}"

    def callback_done(self, webhook_id: str) -> str:
        """String: marks a status callback delivered (a duplicate sends nothing)."""
        return f"{self.prefix}cb:{webhook_id}:done"

    def once(self, name: str) -> str:
        """String: marks something done once (a webhook event id, a used link)."""
        return f"{self.prefix}once:{name}"
