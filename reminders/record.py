"""The stored form of a deadline: one compact JSON document per deadline.

One document per deadline keeps every transition of that deadline a single
read-check-write on a single key (the write script reads only its version), and
costs one key's overhead instead of four. ``"v"`` (the version) is always
the first member so scripts can read it without decoding the document.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any

import orjson

from .clock import compact_epoch
from .lifecycle.states import DeadlineStatus, ReminderKind, ReminderState


@dataclass(slots=True)
class ReminderRecord:
    """One reminder inside a deadline document."""

    seq: int
    channel: str
    send_at: float
    """Epoch seconds, to the millisecond."""
    kind: ReminderKind
    offset_s: int | None = None
    state: ReminderState = "planned"
    attempts: int = 0
    provider_id: str = ""
    reason: str = ""
    updated: int = 0
    lease: str = ""
    """The token of the worker that took the ``sending`` lease: after a lost
    reply it recognises its own lease (and nobody else's)."""

    def to_json(
        self,
        created: int = 0,
        previous_seq: int = 0,
        channel: str = "",
        offset_s: int | None = None,
    ) -> dict[str, Any]:
        # Defaults (the number after the previous reminder's, the deadline's
        # first channel, an offset reminder at the offset of its place in
        # the deadline's list, planned, updated when the deadline was
        # created) are left out: most of the documents in Redis are
        # reminders waiting months.
        data: dict[str, Any] = {}
        if self.seq != previous_seq + 1:
            data["i"] = self.seq
        if self.channel != channel:
            data["c"] = self.channel
        data["t"] = self.send_at
        if self.kind != "offset":
            data["k"] = self.kind
        if self.state != "planned":
            data["s"] = self.state
        if self.offset_s != (offset_s if self.kind == "offset" else None):
            data["o"] = self.offset_s
        if self.attempts:
            data["n"] = self.attempts
        if self.provider_id:
            data["p"] = self.provider_id
        if self.reason:
            data["x"] = self.reason
        if self.updated != created:
            data["u"] = self.updated
        if self.lease:
            data["l"] = self.lease
        return data

    @classmethod
    def from_json(
        cls,
        data: dict[str, Any],
        created: int = 0,
        previous_seq: int = 0,
        channel: str = "",
        offset_s: int | None = None,
    ) -> ReminderRecord:
        kind: ReminderKind = data.get("k", "offset")
        offset = data.get("o", offset_s if kind == "offset" else None)
        return cls(
            seq=int(data.get("i", previous_seq + 1)),
            channel=str(data.get("c", channel)),
            send_at=compact_epoch(float(data["t"])),
            kind=kind,
            offset_s=None if offset is None else int(offset),
            state=data.get("s", "planned"),
            attempts=int(data.get("n", 0)),
            provider_id=str(data.get("p", "")),
            reason=str(data.get("x", "")),
            updated=int(data.get("u", created)),
            lease=str(data.get("l", "")),
        )


@dataclass(slots=True)
class DeadlineRecord:
    """A deadline as stored: contact sealed, times in UTC epoch seconds."""

    version: int
    agency: str
    ref: str
    due: float
    """Epoch seconds, to the millisecond."""
    all_day: bool
    timezone: str
    locale: str
    title: dict[str, str]
    action_url: str | None
    channels: list[str]
    offsets_s: list[int]
    contact: str
    phone_hash: str
    email_hash: str
    fingerprint: str
    status: DeadlineStatus = "active"
    created: int = 0
    updated: int = 0
    closed: int = 0
    next_seq: int = 1
    invite_seq: int = 0
    reminders: list[ReminderRecord] = field(default_factory=list)
    unplanned: str = ""
    """Why no reminder could be planned ("opted_out" or "late"), else ""."""
    purged: int = 0
    """When retention purged the personal data (epoch s), else 0."""

    def dumps(self) -> str:
        doc: dict[str, Any] = {
            "v": self.version,
            "a": self.agency,
            "r": self.ref,
            "d": self.due,
            "tz": self.timezone,
            "l": self.locale,
            "ti": self.title,
            "ch": self.channels,
            "of": self.offsets_s,
            "c": self.contact,
            "fp": self.fingerprint,
            "cr": self.created,
            "rm": self._reminders_json(),
        }
        # Defaults are left out (about 10% of a document).
        optional = {
            "up": 0 if self.updated == self.created else self.updated,
            "sq": 0 if self.next_seq == self._default_next_seq() else self.next_seq,
            "ad": 1 if self.all_day else 0,
            "u": self.action_url or "",
            "ph": self.phone_hash,
            "eh": self.email_hash,
            "st": "" if self.status == "active" else self.status,
            "cl": self.closed,
            "iq": self.invite_seq,
        }
        doc.update((name, value) for name, value in optional.items() if value)
        if self.unplanned:
            doc["np"] = self.unplanned
        if self.purged:
            doc["pg"] = self.purged
        return orjson.dumps(doc).decode()

    def _reminders_json(self) -> list[dict[str, Any]]:
        channel = self.channels[0] if self.channels else ""
        out: list[dict[str, Any]] = []
        previous = 0
        for index, reminder in enumerate(self.reminders):
            out.append(
                reminder.to_json(self.created, previous, channel, _at(self.offsets_s, index))
            )
            previous = reminder.seq
        return out

    def _default_next_seq(self) -> int:
        return self.reminders[-1].seq + 1 if self.reminders else 1

    @classmethod
    def loads(cls, raw: str | bytes) -> DeadlineRecord:
        doc = orjson.loads(raw)
        get = doc.get
        # An empty array may be stored as {} (older documents, written by cjson).
        created = int(doc["cr"])
        channels = list(doc["ch"] or [])
        offsets_s = [int(x) for x in (doc["of"] or [])]
        channel = channels[0] if channels else ""
        reminders: list[ReminderRecord] = []
        previous = 0
        for index, data in enumerate(get("rm") or []):
            offset = _at(offsets_s, index)
            reminder = ReminderRecord.from_json(data, created, previous, channel, offset)
            reminders.append(reminder)
            previous = reminder.seq
        # Positional, in the order of the fields (every transition reads a
        # document: a quarter of this with keywords).
        record = cls(
            int(doc["v"]),
            doc["a"],
            doc["r"],
            compact_epoch(float(doc["d"])),
            bool(get("ad", 0)),
            doc["tz"],
            doc["l"],
            dict(doc["ti"]),
            get("u") or None,
            channels,
            offsets_s,
            doc["c"],
            get("ph", ""),
            get("eh", ""),
            doc["fp"],
            get("st", "active"),
            created,
            int(get("up", created)),
            int(get("cl", 0)),
            int(get("sq", 0)),
            int(get("iq", 0)),
            reminders,
            get("np", ""),
            int(get("pg", 0)),
        )
        if not record.next_seq:
            record.next_seq = record._default_next_seq()
        return record

    def copy(self) -> DeadlineRecord:
        """A copy to change: nothing mutable is shared with this one."""
        # Positional from every field in order (a fifth of ``replace``'s cost:
        # every write copies the document it read).
        copied = DeadlineRecord(*_DEADLINE_FIELDS(self))
        copied.title = dict(self.title)
        copied.channels = list(self.channels)
        copied.offsets_s = list(self.offsets_s)
        copied.reminders = [ReminderRecord(*_REMINDER_FIELDS(r)) for r in self.reminders]
        return copied

    def reminder(self, seq: int) -> ReminderRecord | None:
        for reminder in self.reminders:
            if reminder.seq == seq:
                return reminder
        return None


_DEADLINE_FIELDS = attrgetter(*(f.name for f in fields(DeadlineRecord)))
_REMINDER_FIELDS = attrgetter(*(f.name for f in fields(ReminderRecord)))


def _at(values: list[int], index: int) -> int | None:
    return values[index] if index < len(values) else None
