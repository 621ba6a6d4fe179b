"""Identities: the tag that names a deadline, and public reminder ids.

A deadline's tag is a keyed-free digest of (agency, ref): user data never
appears inside a Redis key or a reminder id, so no ref can break the layout.
A reminder id is ``<tag>-<seq>``: which deadline, which of its reminders.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

TAG_CHARS = 20
_REMINDER_ID = re.compile(r"^([0-9a-f]{20})-([1-9][0-9]{0,5})$")


@lru_cache(maxsize=4096)
def deadline_tag(agency: str, ref: str) -> str:
    """A stable 80-bit digest naming the deadline (agency, ref). (Cached:
    sending a reminder asks twice, for its receipt check and its message.)"""
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
