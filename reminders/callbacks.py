"""Status callbacks: what happened to an agency's reminders, told to the agency.

Every transition already appends to its shard's audit stream in the same
atomic step as the document (the store's compare-and-set), so the streams are
the outbox: nothing that happened can be missing from them. A relay (each
scheduler runs one step of it between releases) reads every shard's stream
through a consumer group,
keeps the events agencies are told about, stores each event's payload under
its id and hands the id to the workers, who POST it to the agency's callback
URL, signed as the Standard Webhooks specification says, retrying for at
least ``REMINDERS_CALLBACK_GIVE_UP_S``.

An event's id is ``evt_``, its shard and its audit entry's id: the same event always has
the same ``webhook-id``, however often it is relayed or retried, so an
agency de-duplicates on it. Payloads carry no personal data: the agency's
own ref, the reminder id, channel, state and reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from .agencies import CALLBACK_GROUP, AgencyRegistry
from .clock import Clock, from_epoch, to_epoch
from .ids import reminder_id
from .redis.keys import Keys
from .redis.store import RedisStore
from .redis.streams import ensure_group

log = logging.getLogger("reminders.callbacks")

REMINDER_EVENTS = frozenset({"sent", "delivered", "undelivered", "failed", "skipped", "no_receipt"})
DEADLINE_EVENTS = frozenset({"completed", "cancelled"})
GROUP = CALLBACK_GROUP


def event_type(event: str) -> str | None:
    """The callback type of an audit event, or None when agencies are not told."""
    if event in REMINDER_EVENTS:
        return f"reminder.{event}"
    if event in DEADLINE_EVENTS:
        return f"deadline.{event}"
    return None


def sign(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """The ``webhook-signature`` header value (Standard Webhooks, v1)."""
    key = base64.b64decode(secret.removeprefix("whsec_") + "==")
    mac = hmac.new(key, f"{webhook_id}.{timestamp}.{body}".encode(), hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


@dataclass(frozen=True, slots=True)
class Entry:
    """One audit stream entry, as the relay reads it."""

    stream_id: str
    event: str
    tag: str
    detail: str
    at: int
    agency: str
    shard: int = 0

    @property
    def webhook_id(self) -> str:
        """The event's id: the same however often it is relayed."""
        return f"evt_{self.shard}_{self.stream_id}"

    @property
    def millis(self) -> int:
        """When Redis appended it (the stream id's time part, ms)."""
        return int(self.stream_id.split("-", 1)[0])


def payload(entry: Entry, agency: str, ref: str, record: Any | None) -> dict[str, Any]:
    """The JSON body of the callback for ``entry`` (see the module)."""
    kind = event_type(entry.event)
    assert kind is not None
    data: dict[str, Any] = {"agency": agency, "ref": ref}
    words = entry.detail.split()
    if entry.event in REMINDER_EVENTS and words and words[0].isdigit():
        seq = int(words[0])
        reminder = None if record is None else record.reminder(seq)
        data["reminder"] = {
            "id": reminder_id(entry.tag, seq),
            "channel": None if reminder is None else reminder.channel,
            "state": entry.event,
            "reason": words[1] if len(words) > 1 and entry.event != "sent" else "",
        }
    if entry.event in DEADLINE_EVENTS:
        data["status"] = entry.event
    return {
        "type": kind,
        "timestamp": from_epoch(entry.at).isoformat().replace("+00:00", "Z"),
        "data": data,
    }


class Relay:
    """Moves callback events from the audit stream to the workers."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        store: RedisStore,
        agencies: AgencyRegistry,
        clock: Clock,
        enqueue: Callable[[Sequence[str]], object],
        consumer: str | None = None,
        batch: int = 500,
        keep_s: int = 4 * 86400,
        claim_idle_ms: int = 60_000,
    ) -> None:
        self.client = client
        self.keys = keys
        self.store = store
        self.agencies = agencies
        self.clock = clock
        self.enqueue = enqueue
        self.consumer = consumer or f"{socket.gethostname()}-{id(self):x}"
        self.batch = batch
        self.keep_s = keep_s
        self.claim_idle_ms = claim_idle_ms
        self._group_ready = False

    def step(self) -> int:
        """Relay one batch from each shard (entries of a dead relay first);
        how many events went to the workers. Nothing is read while no agency
        has a callback."""
        told = self.agencies.with_callback()
        if not told:
            return 0
        self._ensure_group()
        streams = self.keys.audits
        pipe = self.client.pipeline(transaction=False)
        for stream in streams:
            pipe.xautoclaim(
                stream, GROUP, self.consumer, self.claim_idle_ms, "0-0", count=self.batch
            )
        claimed: list[Any] = pipe.execute()
        found: dict[int, list[Any]] = {
            shard: list(reply[1]) for shard, reply in enumerate(claimed) if reply and reply[1]
        }
        quiet = [shard for shard in range(len(streams)) if shard not in found]
        if quiet:
            pipe = self.client.pipeline(transaction=False)
            for shard in quiet:
                pipe.xreadgroup(GROUP, self.consumer, {streams[shard]: ">"}, count=self.batch)
            for shard, fresh in zip(quiet, pipe.execute(), strict=True):
                if fresh and fresh[0][1]:
                    found[shard] = list(fresh[0][1])
        if not found:
            return 0
        entries = [
            _entry(stream_id, fields, shard)
            for shard, pairs in found.items()
            for stream_id, fields in pairs
        ]
        return self._relay(entries, told)

    def _relay(self, entries: list[Entry], told: Mapping[str, int]) -> int:
        # Only events of agencies told, from when their callback was set.
        wanted = [
            e
            for e in entries
            if e.agency in told
            and e.tag
            and event_type(e.event) is not None
            and e.millis >= told[e.agency]
        ]
        tags = sorted({e.tag for e in wanted})
        records = dict(zip(tags, self.store.load_many(tags), strict=True))
        ids: list[str] = []
        pipe = self.client.pipeline(transaction=False)
        for entry in wanted:
            record = records.get(entry.tag)
            if record is None:
                continue
            agency = record.agency
            webhook_id = entry.webhook_id
            body: dict[str, Any] = {
                "agency": agency,
                "body": payload(entry, agency, record.ref, record),
                "created": to_epoch(self.clock.now()),
            }
            pipe.set(self.keys.callback(webhook_id), json.dumps(body), nx=True, ex=self.keep_s)
            ids.append(webhook_id)
        if ids:
            pipe.execute()
            self.enqueue(ids)
        # Acknowledged only once handed over: a crash before this relays
        # them again, with the same ids.
        by_shard: dict[int, list[str]] = {}
        for entry in entries:
            by_shard.setdefault(entry.shard, []).append(entry.stream_id)
        pipe = self.client.pipeline(transaction=False)
        for shard, stream_ids in by_shard.items():
            pipe.xack(self.keys.audit(shard), GROUP, *stream_ids)
        pipe.execute()
        if ids:
            log.info("callbacks relayed=%d", len(ids))
        return len(ids)

    def _ensure_group(self) -> None:
        if not self._group_ready:
            ensure_group(self.client, self.keys.audits, GROUP)
            self._group_ready = True


def _entry(
    stream_id: bytes | str, fields: Mapping[bytes | str, bytes | str] | None, shard: int
) -> Entry:
    text = {_text(k): _text(v) for k, v in (fields or {}).items()}
    return Entry(
        stream_id=_text(stream_id),
        event=text.get("e", ""),
        tag=text.get("d", ""),
        detail=text.get("x", ""),
        at=int(text.get("at", "0") or 0),
        agency=text.get("a", ""),
        shard=shard,
    )


def stored_payload(client: redis.Redis, keys: Keys, webhook_id: str) -> dict[str, Any] | None:
    """What the relay stored for ``webhook_id`` (None once expired)."""
    raw: Any = client.get(keys.callback(webhook_id))
    return None if raw is None else dict(json.loads(raw))


def age_s(stored: Mapping[str, Any], now: datetime) -> int:
    return to_epoch(now) - int(stored.get("created", to_epoch(now)))


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
