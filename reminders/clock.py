"""Where the service gets the time: always aware UTC datetimes.

The clock is passed in, so tests and the demo can fast-forward through
months of schedule in seconds. Redis keeps epoch seconds: :func:`to_epoch`
(whole seconds), :func:`precise_epoch` (to the millisecond: due instants and
send times) and :func:`from_epoch` are the one way between the two.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


def to_epoch(instant: datetime) -> int:
    """Whole seconds since the epoch of an aware instant (how Redis keeps time)."""
    return int(instant.timestamp())


def precise_epoch(instant: datetime) -> float:
    """Seconds since the epoch of an aware instant, to the millisecond: due
    instants, send times and the schedule keep them (a whole number when
    the instant is a whole second), so reminders planned within one second
    are released in order, not together."""
    return compact_epoch(round(instant.timestamp() * 1000) / 1000)


def compact_epoch(epoch: float) -> float:
    """Epoch seconds as stored and shown: an int when whole (documents and
    cursors stay short), else the float."""
    return int(epoch) if float(epoch).is_integer() else float(epoch)


def from_epoch(epoch: int | float) -> datetime:
    """The aware UTC instant of epoch seconds."""
    return datetime.fromtimestamp(epoch, UTC)


class Clock(Protocol):
    """Tells the current instant."""

    def now(self) -> datetime:
        """The current instant, an aware datetime in UTC."""
        ...


class SystemClock:
    """The machine's wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that only moves when told to (tests, the demo)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move forward by ``by`` and return the new instant."""
        if by < timedelta(0):
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += by
            return self._now

    def set(self, instant: datetime) -> None:
        """Jump to ``instant`` (aware; not earlier than now)."""
        with self._lock:
            target = instant.astimezone(UTC)
            if target < self._now:
                raise ValueError("a clock does not go backwards")
            self._now = target
