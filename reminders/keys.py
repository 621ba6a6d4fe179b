"""Redis key layout, in one place.

Every key of one deadline carries the same hash tag, ``{<tag>}``, where the
tag is a keyed-free digest of (agency, ref): user data never appears inside
a key, so no ref can break the layout, and one deadline's atomic steps touch
one Redis Cluster slot. The schedule and its lease share the ``{sched}`` tag
so that the claim script is single-slot too.
"""

from __future__ import annotations

import hashlib
import re

TAG_CHARS = 20
_REMINDER_ID = re.compile(r"^([0-9a-f]{20})-([1-9][0-9]{0,5})$")


def deadline_tag(agency: str, ref: str) -> str:
    """A stable 80-bit digest naming the deadline (agency, ref)."""
    digest = hashlib.blake2b(f"{agency}\x00{ref}".encode(), digest_size=TAG_CHARS // 2)
    return digest.hexdigest()


def reminder_id(tag: str, seq: int) -> str:
    """The public id of reminder ``seq`` of deadline ``tag``."""
    return f"{tag}-{seq}"


def split_reminder_id(value: str) -> tuple[str, int] | None:
    """(tag, seq) of a reminder id, or None when it is not one."""
    match = _REMINDER_ID.match(value)
    if match is None:
        return None
    return match.group(1), int(match.group(2))


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

    def once(self, name: str) -> str:
        """String: marks something done once (a webhook event id, a used link)."""
        return f"{self.prefix}once:{name}"
