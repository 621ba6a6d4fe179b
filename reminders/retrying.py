"""Trying again: while Redis is away, and when a concurrent writer won.

:func:`patiently` rides out a Redis restart; :func:`until_written` is the one
compare-and-set loop (read, decide, write with a version check; again on the
fresh document when a concurrent writer got there first).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from .errors import ConflictError

T = TypeVar("T")
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
"""Errors of a Redis that is away for a moment (a restart, a failover)."""


class Lost(enum.Enum):
    """What a compare-and-set step returns when its version check failed."""

    RACE = "race"


LOST = Lost.RACE


def until_written(step: Callable[[int], T | Lost], *, attempts: int, conflict: str) -> T:
    """``step(attempt)`` until it returns anything but :data:`LOST`; after
    ``attempts`` lost races, :class:`ConflictError` with ``conflict``."""
    for attempt in range(attempts):
        result = step(attempt)
        if not isinstance(result, Lost):
            return result
    raise ConflictError(conflict)


def patiently(
    call: Callable[[], T],
    *,
    give_up_s: float = 60.0,
    first_wait_s: float = 0.1,
    longest_wait_s: float = 2.0,
) -> T:
    """``call()``, retried with doubling waits while Redis is unreachable, for
    up to ``give_up_s``; then the last error is raised. Only for calls that
    are safe to run twice: a call whose reply was lost may have run."""
    wait = first_wait_s
    deadline = time.monotonic() + give_up_s
    while True:
        try:
            return call()
        except UNREACHABLE:
            if time.monotonic() + wait > deadline:
                raise
            time.sleep(wait)
            wait = min(wait * 2, longest_wait_s)
