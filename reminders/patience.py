"""Riding out a Redis restart: a call retried while Redis is unreachable."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis

T = TypeVar("T")
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError, redis.ReadOnlyError)
"""Errors of a Redis that is away for a moment (a restart, a failover)."""


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
