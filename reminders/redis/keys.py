"""Redis key layout, in one place: every key name is built here.

Every key of one deadline carries the same hash tag, ``{<tag>}`` (see
:mod:`reminders.ids`), so one deadline's document is one Redis Cluster slot.
The schedule and its lease share the ``{sched}`` tag so that the claim script
is single-slot too.
"""

from __future__ import annotations


class Keys:
    """Builds every key under one prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def deadline(self, tag: str) -> str:
        return f"{self.prefix}d:{{{tag}}}"

    @property
    def schedule(self) -> str:
        """Sorted set: reminder id scored by send time (epoch seconds)."""
        return f"{self.prefix}{{sched}}:due"

    @property
    def lease(self) -> str:
        """Sorted set: claimed reminder ids scored by lease expiry."""
        return f"{self.prefix}{{sched}}:lease"

    @property
    def audit(self) -> str:
        """Stream of every transition."""
        return f"{self.prefix}audit"

    def optout(self, channel: str) -> str:
        """Set of keyed hashes of opted-out addresses for ``channel``."""
        return f"{self.prefix}optout:{channel}"

    @property
    def coverage(self) -> str:
        """Hash: coverage counters (see :mod:`reminders.coverage`)."""
        return f"{self.prefix}coverage"

    def address_failed(self, channel: str, address_hash: str) -> str:
        """String with a TTL: a provider reported this address invalid or
        unreachable (the code); it is not tried again until it expires."""
        return f"{self.prefix}addrfail:{channel}:{address_hash}"

    def last_sms(self, phone_hash: str) -> str:
        """String: the reminder id of the latest SMS sent to a number (by hash)."""
        return f"{self.prefix}lastsms:{phone_hash}"

    @property
    def retention_cursor(self) -> str:
        """String: where the retention sweep's SCAN of deadlines stands."""
        return f"{self.prefix}retention:cursor"

    @property
    def retention_lock(self) -> str:
        """String (short TTL): held by the one process sweeping right now."""
        return f"{self.prefix}retention:lock"

    @property
    def sandbox_sends(self) -> str:
        """Hash (sandbox provider): reminder id -> messages accepted for it."""
        return f"{self.prefix}sandbox:sends"

    @property
    def sandbox_first_ms(self) -> str:
        """Hash (sandbox provider): reminder id -> first acceptance, epoch ms."""
        return f"{self.prefix}sandbox:first_ms"

    def sandbox_accepted(self, provider_id: str) -> str:
        """String (sandbox provider): marks a message id as booked."""
        return f"{self.prefix}sandbox:accepted:{provider_id}"

    @property
    def sandbox_receipts(self) -> str:
        """Sorted set (sandbox provider): pending receipts by due time, ms."""
        return f"{self.prefix}sandbox:receipts"

    @property
    def sandbox_outage(self) -> str:
        """String (sandbox provider): epoch s until which every send fails."""
        return f"{self.prefix}sandbox:outage"

    def sandbox_tries(self, reminder_id: str, channel: str) -> str:
        """Counter (sandbox provider): failed tries of a transient recipient."""
        return f"{self.prefix}sandbox:tries:{reminder_id}:{channel}"

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
        return f"{self.prefix}agency:{slug}"

    @property
    def agencies(self) -> str:
        """Set: the registered agencies' slugs."""
        return f"{self.prefix}agencies"

    @property
    def agencies_with_callback(self) -> str:
        """Sorted set: the agencies that have a status callback URL, scored by
        when (Redis server time, ms) it was set: earlier events are not sent."""
        return f"{self.prefix}agencies:callback"

    def agency_due(self, slug: str) -> str:
        """Sorted set: the agency's deadline tags by due time (API listing)."""
        return f"{self.prefix}agency:{slug}:due"

    def credential(self, kind: str, key_id: str) -> str:
        """Hash: an API key or staff token (its keyed hash, scope, label, times)."""
        return f"{self.prefix}cred:{kind}:{key_id}"

    def credentials_of(self, kind: str, scope: str) -> str:
        """Set: the ids of the credentials of one scope (an agency, or all)."""
        return f"{self.prefix}cred:{kind}:scope:{scope}"

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
