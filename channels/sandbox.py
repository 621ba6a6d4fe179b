"""The sandbox provider: every channel, no accounts, predictable outcomes.

For the demo and for development. Recipients choose the outcome:

============================  =======================================
SMS number ending / email      outcome
============================  =======================================
``...0002`` / ``fail@...``     refused permanently (fall back to the next channel)
``...0003`` / ``temp@...``     transient failure twice, then delivered
``...0004`` / ``bounce@...``   accepted, then reported undelivered
anything else                  accepted, then reported delivered
============================  =======================================

(An email local part may carry a ``+suffix``: ``fail+3@example.ca``.)

Receipts arrive after a short delay on a background thread and go through
:class:`reminders.lifecycle.receipts.OutcomeRecorder`, the code real webhooks use.
Attempt counts live in Redis, so "twice" holds across worker processes.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal, NamedTuple, TypeVar

import redis

from reminders.clock import Clock
from reminders.lifecycle.receipts import DeliveryReport
from reminders.redis.keys import Keys
from reminders.redis.scripts import lua
from reminders.retrying import UNREACHABLE, patiently

from .base import Message, ProviderReceipt
from .errors import PermanentChannelError, TransientChannelError

PROVIDER = "sandbox"
T = TypeVar("T")
R = TypeVar("R")
TRANSIENT_FAILURES = 2
Outcome = Literal["permanent", "transient", "undelivered", "delivered"]
log = logging.getLogger("reminders.channels.sandbox")

_SMS = {"0002": "permanent", "0003": "transient", "0004": "undelivered"}
_EMAIL = {"fail": "permanent", "temp": "transient", "bounce": "undelivered"}


def outcome_for(message: Message) -> Outcome:
    """The outcome the magic recipients ask for."""
    if message.channel == "sms":
        found = _SMS.get(message.to[-4:], "delivered")
    else:
        local = message.to.rpartition("@")[0].lower().split("+", 1)[0]
        found = _EMAIL.get(local, "delivered")
    return found  # type: ignore[return-value]


def pending_report(member: bytes | str, at: datetime) -> DeliveryReport:
    """The delivery report a pending receipt (as :meth:`DelayedReceipts.entry`
    keeps it in Redis) makes when handed over at ``at``."""
    rid, pid, status, code = json.loads(member)
    return DeliveryReport(rid, PROVIDER, pid, status, at, code)


class DelayedReceipts:
    """Hands delivery reports to ``sink`` after ``delay_s``.

    Pending receipts are kept in Redis (a sorted set by due time), not in
    this process: a worker killed with receipts pending leaves them there,
    and whichever sandbox runs next (another worker, the same one restarted)
    delivers them when due. One thread takes the due ones under a lease and
    removes each once recorded; Redis going away meanwhile only delays it."""

    def __init__(
        self,
        sink: Callable[[DeliveryReport], object],
        clock: Clock,
        *,
        delay_s: float,
        client: redis.Redis,
        keys: Keys,
        poll_s: float = 0.05,
        lease_s: float = 30.0,
        sink_many: Callable[[list[DeliveryReport]], object] | None = None,
    ) -> None:
        self.sink = sink
        self.sink_many = sink_many
        """Records many reports at once (the due ones are taken 100 at a time)."""
        self.clock = clock
        self.delay_s = delay_s
        self.client = client
        self.keys = keys
        self.poll_s = poll_s
        self.lease_s = lease_s
        self._take = lua(__package__, "sandbox_receipts_due")
        self._busy = 0
        self._cond = threading.Condition()
        self._closed = False
        self._draining = False
        self._thread = threading.Thread(target=self._run, name="sandbox-receipts", daemon=True)
        self._thread.start()

    def later(self, reminder_id: str, provider_id: str, status: str, code: str = "") -> None:
        member, due_ms = self.entry(reminder_id, provider_id, status, code)
        patiently(lambda: self.client.zadd(self.keys.sandbox_receipts, {member: due_ms}))
        self.wake()

    def entry(
        self, reminder_id: str, provider_id: str, status: str, code: str = ""
    ) -> tuple[str, int]:
        """A receipt as kept in Redis, and when it is due (epoch ms)."""
        due_ms = int((time.time() + self.delay_s) * 1000)
        return json.dumps([reminder_id, provider_id, status, code]), due_ms

    def wake(self) -> None:
        """A receipt was added: look for due ones now, if it is due before
        the next poll. (A later one is found by the polls: waking the thread
        for every batch of sends only took a handful of receipts at a time,
        each take a round trip and a write of its own.)"""
        if self.delay_s < self.poll_s:
            with self._cond:
                self._cond.notify()

    def pending(self) -> int:
        """Receipts waiting in Redis (any process's)."""
        return int(self.client.zcard(self.keys.sandbox_receipts))

    def flush(self, timeout_s: float = 30.0) -> bool:
        """Wait until every scheduled receipt was recorded; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while True:
            with self._cond:
                busy = self._busy
            if not busy and not self.pending():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)

    def close(self) -> None:
        """Record what is pending now (without waiting out the delays) and stop."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    def halt(self) -> None:
        """Stop without recording anything (what a crash does: tests)."""
        with self._cond:
            self._closed = True
            self._draining = True
            self._cond.notify_all()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while True:
            with self._cond:
                closed, halted = self._closed, self._draining
            if halted:
                return
            try:
                now_ms = int(time.time() * 1000)
                horizon_ms = 2**52 if closed else now_ms
                lease_ms = now_ms + int(self.lease_s * 1000)
                keys = [self.keys.sandbox_receipts]
                taken = self._take(self.client, keys, [horizon_ms, 100, lease_ms])
            except redis.RedisError:
                taken = []  # Redis is away: try again at the next poll
            recorded = self._record_all(taken)
            if closed and not all(recorded):
                return  # closing with Redis away: the rest stays in Redis for the next one
            if closed and not taken:
                return
            if not taken:
                with self._cond:
                    if not self._closed:
                        self._cond.wait(self.poll_s)

    def _record_all(self, taken: list[bytes | str]) -> list[bool]:
        """Record the receipts taken, all at once when the sink can (two
        round trips and one to drop them); one by one otherwise, or when
        that fails for another reason than Redis being away."""
        if self.sink_many is None or len(taken) < 2:
            return [self._record(raw) for raw in taken]
        members = [raw.decode() if isinstance(raw, bytes) else raw for raw in taken]
        reports = [pending_report(member, self.clock.now()) for member in members]
        sink_many = self.sink_many
        with self._cond:
            self._busy += 1
        try:
            patiently(lambda: sink_many(reports), give_up_s=ACCEPT_PATIENCE_S)
            patiently(lambda: self.client.zrem(self.keys.sandbox_receipts, *members))
            return [True] * len(members)
        except redis.RedisError:
            log.warning("sandbox receipts postponed count=%d", len(members))
            return [False] * len(members)
        except Exception:
            log.exception("sandbox receipts failed together; one by one now")
            return [self._record(raw) for raw in taken]
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    def _record(self, raw: bytes | str) -> bool:
        member = raw.decode() if isinstance(raw, bytes) else raw
        report = pending_report(member, self.clock.now())
        rid = report.reminder_id
        with self._cond:
            self._busy += 1
        try:
            # While Redis restarts, wait for it (a receipt is safe to record twice).
            patiently(lambda: self.sink(report), give_up_s=ACCEPT_PATIENCE_S)
            patiently(lambda: self.client.zrem(self.keys.sandbox_receipts, member))
            return True
        except redis.RedisError:
            # Still away: the receipt stays in Redis and is taken again when
            # its lease ends.
            log.warning("sandbox receipt postponed reminder=%s", rid)
            return False
        except Exception:  # a receipt must not kill the thread
            log.exception("sandbox receipt failed reminder=%s", rid)
            patiently(lambda: self.client.zrem(self.keys.sandbox_receipts, member))
            return True
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()


ACCEPT_PATIENCE_S = 60.0


def start_outage(client: redis.Redis, keys: Keys, until: datetime) -> None:
    """Every sandbox send fails transiently (503) until ``until`` (on the
    service's clock): a provider outage, for drills and tests."""
    client.set(keys.sandbox_outage, until.timestamp())


class SandboxOutcomeUnknown(RuntimeError):
    """Redis stayed away while the sandbox booked a message: whether it was
    taken is unknown (the dispatcher then never sends it again)."""

    def __init__(self, reminder_id: str) -> None:
        super().__init__(f"sandbox could not tell whether it took reminder {reminder_id}")
        self.reminder_id = reminder_id


class SandboxChannel:
    """One channel (``sms``, ``email`` or ``calendar``) of the sandbox."""

    def __init__(
        self,
        name: str,
        *,
        client: redis.Redis,
        keys: Keys,
        receipts: DelayedReceipts,
        clock: Clock,
    ) -> None:
        self.name = name
        self.client = client
        self.keys = keys
        self._accept_script = lua(__package__, "sandbox_accept")
        self.receipts = receipts
        self.clock = clock

    def send(self, message: Message) -> ProviderReceipt:
        try:
            return self._send(message)
        except redis.RedisError:
            # The sandbox keeps its books in Redis; while Redis is away before
            # it took the message, it is a provider that cannot take it.
            raise TransientChannelError(PROVIDER, "503", "sandbox unavailable") from None

    def send_many(self, messages: Sequence[Message]) -> list[ProviderReceipt | Exception]:
        """Several messages in one call, as a provider's batch API takes
        them: the accepted ones are booked in one Redis step; each message
        has its own outcome (a receipt, or the error it met)."""
        results: list[ProviderReceipt | Exception | None] = [None] * len(messages)
        bookings: list[tuple[int, Booking]] = []
        for index, message in enumerate(messages):
            outcome = outcome_for(message)
            if outcome in ("permanent", "transient"):
                results[index] = _outcome_of(self.send, message)  # the rare paths, one by one
            else:
                bookings.append((index, self._booking(message, outcome)))
        if bookings:
            booked = _outcome_of(self._accept, [b for _, b in bookings])
            for index, booking in bookings:
                if isinstance(booked, SandboxOutcomeUnknown):
                    results[index] = SandboxOutcomeUnknown(booking.reminder_id)
                elif isinstance(booked, Exception):
                    results[index] = booked
                else:
                    results[index] = ProviderReceipt(PROVIDER, booking.provider_id, booked)
        return [r for r in results if r is not None]

    def _booking(self, message: Message, outcome: Outcome) -> Booking:
        """A message to accept under a fresh provider id, and its receipt."""
        provider_id = f"SB{random.getrandbits(128):032x}"  # unique; no system call
        if outcome == "undelivered":
            code = "30005" if message.channel == "sms" else "bounce"
            return Booking(message.reminder_id, provider_id, "undelivered", code)
        return Booking(message.reminder_id, provider_id, "delivered", "")

    def _accept(self, bookings: Sequence[Booking]) -> datetime:
        """Book accepted messages (and their delivery receipts) in one step,
        exactly once even when Redis restarts mid-call: each booking is
        keyed by its ``provider_id`` (a retried call that already landed
        books nothing more) and retried while Redis is unreachable. After
        ``ACCEPT_PATIENCE_S`` the outcome is unknown, as with a provider
        that timed out after the request left: that is
        :class:`SandboxOutcomeUnknown`, never a transient error, so the
        reminders are not sent again. Returns the acceptance time."""
        keys = [self.keys.sandbox_accepted, self.keys.sandbox_outage, self.keys.sandbox_receipts]
        now = self.clock.now()
        args: list[str | int] = [time.time_ns() // 10**6, int(now.timestamp())]
        for booking in bookings:
            # Its delivery receipt is booked with it, in the same step.
            receipt, due_ms = self.receipts.entry(*booking)
            args += [booking.provider_id, booking.reminder_id, receipt, due_ms]
        try:
            # The error cannot tell whether the first try landed: retry them all.
            booked = patiently(
                lambda: self._accept_script(self.client, keys, args),
                give_up_s=ACCEPT_PATIENCE_S,
            )
        except UNREACHABLE:
            raise SandboxOutcomeUnknown(bookings[0].reminder_id) from None
        if not int(booked):
            raise TransientChannelError(PROVIDER, "503", "sandbox outage")
        self.receipts.wake()
        return now

    def _send(self, message: Message) -> ProviderReceipt:
        outcome = outcome_for(message)
        if outcome == "permanent":
            code = "21211" if message.channel == "sms" else "400"
            raise PermanentChannelError(PROVIDER, code, "sandbox recipient refuses messages")
        if outcome == "transient":
            key = self.keys.sandbox_tries(message.reminder_id, message.channel)
            pipe = self.client.pipeline(transaction=True)
            pipe.incr(key)
            pipe.expire(key, 86_400)
            tries = int(pipe.execute()[0])
            if tries <= TRANSIENT_FAILURES:
                raise TransientChannelError(PROVIDER, "503", f"sandbox busy (try {tries})")
        booking = self._booking(message, outcome)
        # The provider's own log of accepted messages: how tests and the demo
        # count sends per reminder (exactly once, or not).
        return ProviderReceipt(PROVIDER, booking.provider_id, self._accept([booking]))


class Booking(NamedTuple):
    """An accepted message as the sandbox books it, with its later receipt."""

    reminder_id: str
    provider_id: str
    status: str
    code: str


def _outcome_of(fn: Callable[[T], R], arg: T) -> R | Exception:
    """What ``fn(arg)`` returned, or the exception it raised."""
    try:
        return fn(arg)
    except Exception as err:  # each message of a batch has its own outcome
        return err


def accepted_sends(client: redis.Redis, keys: Keys) -> dict[str, list[int]]:
    """The sandbox's log: for each reminder id, when each message sent for
    it was accepted (epoch ms, earliest first). How tests, the demo and the
    benchmarks count sends (exactly once, or not)."""
    sends: dict[str, list[int]] = {}
    for value in client.hvals(keys.sandbox_accepted):
        text = value.decode() if isinstance(value, bytes) else str(value)
        reminder_id, at_ms = text.rsplit(" ", 1)
        sends.setdefault(reminder_id, []).append(int(at_ms))
    for times in sends.values():
        times.sort()
    return sends
