"""Listing an agency's deadlines by due time, a page at a time.

Each write keeps the agency's due index (a sorted set of deadline tags by
due time) in the same step as the document. A page reads the index from the
cursor on, loads those documents in one round trip and keeps the ones whose
status matches; the cursor (opaque) is where the next page starts, so pages
stay stable while deadlines are added. ``due_from`` and ``due_to`` are the
due dates as each deadline's citizen sees them (in its own time zone).
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime, time, timedelta

from pydantic import BaseModel

from .clock import compact_epoch, from_epoch
from .errors import InvalidRequest
from .models import zone
from .redis.store import RedisStore
from .views import DeadlineView

ZONE_SLACK = timedelta(hours=15)
"""Every time zone's dates fall within this of the UTC date."""
MAX_SCAN_FACTOR = 5
"""A page reads at most this many times ``limit`` index entries (status
filters may skip many); the cursor then says where to go on."""


class Page(BaseModel):
    """One page of deadlines, and the cursor of the next (None at the end)."""

    deadlines: list[DeadlineView]
    next_cursor: str | None


def encode_cursor(due: float, tag: str) -> str:
    return base64.urlsafe_b64encode(f"{due}:{tag}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        due, tag = text.split(":", 1)
        number = float(due)
        if number != number or number in (float("inf"), float("-inf")):
            raise ValueError(due)
        return compact_epoch(number), tag
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidRequest("cursor", "is not a cursor this API gave") from None


def page(
    store: RedisStore,
    agency: str,
    *,
    status: str | None = None,
    due_from: date | None = None,
    due_to: date | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> Page:
    """The deadlines of ``agency`` due from ``due_from`` to ``due_to``
    (inclusive), with ``status`` if given, after ``cursor``."""
    if not 1 <= limit <= 500:
        raise InvalidRequest("limit", "must be from 1 to 500")
    if due_from is not None and due_to is not None and due_to < due_from:
        raise InvalidRequest("due_to", "must not be before due_from")
    slack = int(ZONE_SLACK.total_seconds())
    low: int | str = "-inf" if due_from is None else _day_start(due_from) - slack
    high: int | str = "+inf" if due_to is None else _day_start(due_to + timedelta(days=1)) + slack
    after: tuple[float, str] | None = decode_cursor(cursor) if cursor else None
    found: list[DeadlineView] = []
    scanned = 0
    last: tuple[float, str] | None = None
    while len(found) < limit and scanned < limit * MAX_SCAN_FACTOR:
        entries = store.due_index(agency, low, high, last or after, limit)
        if not entries:
            return Page(deadlines=found, next_cursor=None)
        scanned += len(entries)
        records = store.load_many([tag for tag, _ in entries])
        for (tag, due), record in zip(entries, records, strict=True):
            last = (due, tag)
            if record is None or record.agency != agency:
                continue
            if status is not None and record.status != status:
                continue
            local = from_epoch(record.due).astimezone(zone(record.timezone)).date()
            if (due_from and local < due_from) or (due_to and local > due_to):
                continue
            found.append(DeadlineView.of(tag, record))
            if len(found) == limit:
                break
    next_cursor = None if last is None else encode_cursor(*last)
    if len(found) < limit and scanned < limit * MAX_SCAN_FACTOR:
        next_cursor = None
    return Page(deadlines=found, next_cursor=next_cursor)


def _day_start(day: date) -> int:
    return int(datetime.combine(day, time(0), tzinfo=UTC).timestamp())
