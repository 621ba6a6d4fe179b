"""The dispatcher behind the thin ``dispatch`` actor: one schedule member in,
one reminder sent (at most once) or a recorded reason why not.

Steps (the rules are in :mod:`reminders.lifecycle.sending`):

1. load the deadline and the opt-outs of its addresses;
2. ignore a duplicate or a reminder re-planned later; skip with a reason
   (completed, cancelled, past due, opted out, no contact), falling back to
   the next channel where one is reachable; defer an SMS out of quiet hours;
3. render the message, wait for room under the provider's rate limit;
4. take the ``sending`` lease (one compare-and-set: only one worker wins);
5. call the channel; record ``sent`` with the provider id, or re-plan a
   transient error with backoff, or fail a permanent one and fall back.

A crash between 4 and 5's record leaves the reminder ``sending``: it is not
sent again (we cannot know whether the provider accepted it); its receipt,
if one comes, still records the outcome, else it ends ``no_receipt``.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, wait
from typing import Any, TypeVar

from channels.base import Channel, Message, ProviderReceipt, SendMany
from channels.compose import Composer, NoAddress
from channels.errors import PermanentChannelError, TransientChannelError
from reminders.agencies import AgencyRegistry
from reminders.clock import Clock, to_epoch
from reminders.ids import split_reminder_id
from reminders.lifecycle.sending import (
    RetryPolicy,
    address_failure,
    check_receipt,
    defer,
    parse_member,
    record_permanent,
    record_sent,
    record_transient,
    skip,
    take_lease,
    verdict,
)
from reminders.lifecycle.transitions import Applied, Change, Transitions
from reminders.policy import Policy, PolicyBook
from reminders.record import DeadlineRecord
from reminders.redis.store import RedisStore
from reminders.retrying import patiently
from reminders.values import value_type
from reminders.vault import ContactVault

from .ratelimit import ProviderLimiter

log = logging.getLogger("reminders.dispatch")


T = TypeVar("T")


class _Inline(Executor):
    """Runs what it is given at once, in the caller's thread."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as err:  # the caller reads it from the future
            future.set_exception(err)
        return future


INLINE = _Inline()

Step = tuple[str, Change, DeadlineRecord, Sequence[str]]
"""A transition to write: reminder id, change, document as read, members handled."""
Then = Callable[[Applied | None], tuple[str, bool]]
"""After an outcome's write: what happened, and whether the write ended the lease."""


@value_type
class Send:
    """A member to send now: its document as read and its message."""

    member: str
    rid: str
    record: DeadlineRecord
    channel: str
    message: Message
    policy: Policy
    opted_out: frozenset[str]


@value_type
class Read:
    """A member's deadline document and its addresses' state, as read."""

    record: DeadlineRecord
    opted: frozenset[str]
    failed: frozenset[str]


class Dispatcher:
    """Sends due reminders; one per process, shared by the worker threads."""

    def __init__(
        self,
        *,
        store: RedisStore,
        vault: ContactVault,
        policies: PolicyBook,
        channels: Mapping[str, Channel],
        composer: Composer,
        clock: Clock,
        transitions: Transitions | None = None,
        agencies: AgencyRegistry | None = None,
        limiter: ProviderLimiter | None = None,
        retry: RetryPolicy | None = None,
        no_receipt_after_s: int = 72 * 3600,
        rng: random.Random | None = None,
        handled: Callable[[str], object] | None = None,
        last_sms_ttl_s: int = 90 * 86400,
    ) -> None:
        self.store = store
        self.vault = vault
        self.policies = policies
        self.channels = channels
        self.composer = composer
        self.clock = clock
        self.transitions = transitions or Transitions(store, clock)
        self.agencies = agencies
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.no_receipt_after_s = no_receipt_after_s
        self.rng = rng or random.Random()
        self.handled = handled
        """Called with each member once handled: releases its redelivery lease."""
        self.last_sms_ttl_s = last_sms_ttl_s

    def _apply(
        self, rid: str, change: Change, loaded: DeadlineRecord | None, member: str = ""
    ) -> Applied | None:
        """Apply ``change``; a ``member`` given is handled by this write (its
        lease ends in the same step)."""
        handled = (member,) if member else ()
        return patiently(
            lambda: self.transitions.apply(rid, change, loaded=loaded, handled=handled)
        )

    def _remember_bad_address(
        self, record: DeadlineRecord, channel: str, code: str, policy: Policy
    ) -> None:
        """An address the provider called invalid is not tried again for the
        policy's ``address_failure_ttl``, on any deadline."""
        listed = address_failure(channel, code)
        if listed is None:
            return
        digest = record.phone_hash if listed == "sms" else record.email_hash
        ttl_s = int(policy.address_failure_ttl.total_seconds())
        patiently(lambda: self.store.mark_address_failed(listed, digest, code, ttl_s))

    def dispatch_all(self, members: Sequence[str], pool: Executor) -> list[str]:
        """Handle the members of one message, each its own exactly-once state
        machine; what happened to each.

        The steps of all the plain sends go to Redis together: the
        documents and their addresses' state in two round trips, every
        ``sending`` lease in one, every outcome in one (ending the members'
        leases); the provider calls run concurrently. Anything else (a skip,
        a deferral, a receipt check, a lease lost to a race) takes the
        one-member path, concurrently. When a step raised (Redis away), the
        others still ran and the first error is raised once all are done:
        Dramatiq retries the message, and the members already handled are
        no-ops the second time."""
        if len(members) == 1:
            return [self.dispatch(members[0])]
        reads = self._read_all(members)
        outcomes: dict[int, str] = {}
        alone: dict[int, Future[str]] = {}
        sends: list[tuple[int, Send]] = []
        for index, member in enumerate(members):
            prepared = self._prepare(member, reads.get(member))
            if prepared is None:
                alone[index] = pool.submit(self.dispatch, member, reads.get(member))
            else:
                sends.append((index, prepared))
        errors: list[BaseException] = []
        try:
            outcomes.update(self._send_all(sends, pool))
        except Exception as err:  # the one-member steps still finish first
            errors.append(err)
        wait(alone.values())
        for index, future in alone.items():
            error = future.exception()
            if error is not None:
                errors.append(error)
            else:
                outcomes[index] = future.result()
        if errors:
            raise errors[0]
        return [outcomes[i] for i in range(len(members))]

    def _read_all(self, members: Sequence[str]) -> dict[str, Read]:
        """The documents of the members and their addresses' state, in two
        round trips."""
        reminders = [(m, split_reminder_id(m)) for m in members if not parse_member(m)[1]]
        tags = sorted({parts[0] for _, parts in reminders if parts is not None})
        loaded = patiently(lambda: self.store.load_many(tags))
        records = {tag: r for tag, r in zip(tags, loaded, strict=True) if r is not None}
        found = list(records.values())
        pairs = [(r.phone_hash, r.email_hash) for r in found]
        states = patiently(lambda: self.store.address_states(pairs))
        by_tag = {r_tag: state for r_tag, state in zip(records, states, strict=True)}
        read: dict[str, Read] = {}
        for member, parts in reminders:
            if parts is not None and parts[0] in records:
                opted, failed = by_tag[parts[0]]
                read[member] = Read(records[parts[0]], opted, failed)
        return read

    def _prepare(self, member: str, read: Read | None) -> Send | None:
        """The message of a member that is to be sent now, or None when it
        is anything else (the one-member path decides and records it)."""
        rid, is_receipt_check = parse_member(member)
        parts = split_reminder_id(rid)
        if is_receipt_check or read is None or parts is None:
            return None
        record = read.record
        reminder = record.reminder(parts[1])
        if reminder is None:
            return None
        policy = self._policy(record.agency)
        now = self.clock.now()
        decision = verdict(record, reminder, to_epoch(now), read.opted, policy, read.failed)
        if decision.action != "send":
            return None
        try:
            message = self.composer.compose(
                record, reminder, self.vault.open(record.contact), policy, now
            )
        except NoAddress:
            return None
        return Send(
            member, rid, record, reminder.channel, message, policy, read.opted | read.failed
        )

    def _policy(self, agency: str) -> Policy:
        policy = self.policies.for_agency(agency)
        registry = self.agencies
        if not policy.display_name and registry is not None:
            # The names the agency was registered with, unless its policy names it.
            names = patiently(lambda: registry.display_names(agency))
            policy = policy.model_copy(update={"display_name": names})
        return policy

    def _send_all(self, sends: list[tuple[int, Send]], pool: Executor) -> dict[int, str]:
        """Lease, send and record ``sends`` (by their index in the message)."""
        if not sends:
            return {}
        results: dict[int, str] = {}
        # Every lease in one write; each carries its worker's token.
        # Unique, not secret: the random module's generator (reseeded in a
        # forked process) and no system call for each.
        tokens = [f"{random.getrandbits(48):012x}" for _ in sends]
        steps: list[Step] = [
            (send.rid, take_lease(self.no_receipt_after_s, token), send.record, ())
            for (_, send), token in zip(sends, tokens, strict=True)
        ]
        leased = patiently(lambda: self.transitions.apply_many(steps))
        held: list[tuple[int, Send, DeadlineRecord]] = []
        for (index, send), token, applied in zip(sends, tokens, leased, strict=True):
            record = applied.record if applied is not None else self._ours(send.rid, token)
            if record is None:
                self._done(send.member)
                results[index] = "ignored"
            else:
                held.append((index, send, record))
        calls = self._provider_calls([send for _, send, _ in held], pool)
        # Every outcome in one write, ending the members' leases.
        recorded: list[tuple[int, Send, Then]] = []
        changes: list[Step] = []
        for (index, send, record), call in zip(held, calls, strict=True):
            change, then = self._outcome(send, record, call)
            if change is None:
                results[index] = then(None)[0]
            else:
                changes.append((send.rid, change, record, (send.member,)))
                recorded.append((index, send, then))
        written = patiently(lambda: self.transitions.apply_many(changes)) if changes else []
        for (index, send, then), applied in zip(recorded, written, strict=True):
            outcome, ended = then(applied)
            if not ended:
                self._done(send.member)
            results[index] = outcome
        return results

    def _provider_calls(
        self, sends: Sequence[Send], pool: Executor
    ) -> list[ProviderReceipt | BaseException]:
        """Hand ``sends`` to their channels and wait for every outcome (a
        receipt or the error raised): the messages of a channel whose
        provider takes a batch in one call (the sandbox's) in that call, the
        others each in its own call, concurrently."""
        outcomes: list[ProviderReceipt | BaseException | None] = [None] * len(sends)
        futures: dict[int, Future[ProviderReceipt]] = {}
        batches: dict[str, tuple[SendMany, list[int]]] = {}
        for index, send in enumerate(sends):
            if self.limiter is not None:
                self.limiter.wait(send.channel)
            channel = self.channels[send.channel]
            many: SendMany | None = getattr(channel, "send_many", None)
            if len(sends) > 1 and many is not None:
                batches.setdefault(send.channel, (many, []))[1].append(index)
            else:
                futures[index] = pool.submit(channel.send, send.message)
        for send_many, indexes in batches.values():
            try:
                results = send_many([sends[i].message for i in indexes])
            except Exception as err:  # a bug: every message's outcome is unknown
                results = [err] * len(indexes)
            for index, result in zip(indexes, results, strict=True):
                outcomes[index] = result
        wait(futures.values())
        for index, future in futures.items():
            outcomes[index] = future.exception() or future.result()
        done = [o for o in outcomes if o is not None]
        assert len(done) == len(sends)  # every send has its outcome, in order
        return done

    def _ours(self, rid: str, token: str) -> DeadlineRecord | None:
        """After a lease write that did not land as sent: the document if
        the lease is ours all the same (its reply was lost), else None."""
        parts = split_reminder_id(rid)
        assert parts is not None
        current = patiently(lambda: self.store.load(parts[0]))
        reminder = None if current is None else current.reminder(parts[1])
        if reminder is not None and reminder.state == "sending" and reminder.lease == token:
            return current
        return None

    def _done(self, member: str) -> None:
        """End a member's lease (when no write did)."""
        done = self.handled
        if done is not None:
            patiently(lambda: done(member))

    def _outcome(
        self, send: Send, record: DeadlineRecord, call: ProviderReceipt | BaseException
    ) -> tuple[Change | None, Then]:
        """The change that records a provider call's outcome, and what to
        do once it is written (log, remember, say what happened)."""
        rid = send.rid
        if isinstance(call, ProviderReceipt):
            change = record_sent(call.provider, call.provider_id)

            def sent(applied: Applied | None) -> tuple[str, bool]:
                if send.channel == "sms":
                    # So a "SNOOZE 2" reply from this number finds this reminder.
                    ttl = self.last_sms_ttl_s
                    patiently(lambda: self.store.note_last_sms(record.phone_hash, rid, ttl))
                return "sent", applied is not None

            return change, sent
        error = call
        if isinstance(error, TransientChannelError):
            err = error
            change = record_transient(err.provider, err.code, self.retry, self.rng, send.opted_out)

            def retried(applied: Applied | None) -> tuple[str, bool]:
                if applied is not None and applied.reminder.state == "planned":
                    at = applied.reminder.send_at
                    log.info("retry reminder=%s code=%s at=%d", rid, err.code, at)
                    return "retry", True
                log.warning("failed reminder=%s code=%s (no time left to retry)", rid, err.code)
                return "failed", applied is not None

            return change, retried
        if isinstance(error, PermanentChannelError):
            perm = error
            change = record_permanent(perm.provider, perm.code, send.opted_out)

            def failed(applied: Applied | None) -> tuple[str, bool]:
                log.warning("failed reminder=%s provider=%s code=%s", rid, perm.provider, perm.code)
                self._remember_bad_address(record, send.channel, perm.code, send.policy)
                return "failed", applied is not None

            return change, failed
        # A bug or an unexpected SDK error: we cannot know whether the
        # provider took it, so the reminder stays ``sending`` (never sent
        # twice) and ends ``no_receipt`` unless a receipt comes.
        log.error("send raised reminder=%s", rid, exc_info=error)

        def unknown(applied: Applied | None) -> tuple[str, bool]:
            self._done(send.member)
            return "unknown", False

        return None, unknown

    def dispatch(self, member: str, read: Read | None = None) -> str:
        """Handle one schedule member; returns what happened (for logs and
        tests). ``read``: its document and address state, read just now."""
        outcome, lease_ended = self._dispatch(member, read)
        if self.handled is not None and not lease_ended:
            done = self.handled
            patiently(lambda: done(member))
        return outcome

    def _dispatch(self, member: str, read: Read | None = None) -> tuple[str, bool]:
        """What happened, and whether the write that recorded it also ended
        the member's lease."""
        rid, is_receipt_check = parse_member(member)
        if is_receipt_check:
            applied = self._apply(rid, check_receipt, None, member)
            return ("no_receipt", True) if applied else ("ignored", False)
        parts = split_reminder_id(rid)
        if parts is None:
            return "ignored", False
        tag = parts[0]
        record = read.record if read is not None else patiently(lambda: self.store.load(tag))
        reminder = None if record is None else record.reminder(parts[1])
        if record is None or reminder is None:
            return "ignored", False
        if read is not None:
            opted, failed = read.opted, read.failed
        else:
            opted, failed = patiently(
                lambda: self.store.address_state(record.phone_hash, record.email_hash)
            )
        # Channels the citizen cannot receive now: opted out, or an address a
        # provider reported bad (fallbacks avoid both).
        opted_out = opted | failed
        policy = self._policy(record.agency)
        now = self.clock.now()
        decision = verdict(record, reminder, to_epoch(now), opted, policy, failed)
        if decision.action == "ignore":
            return "ignored", False
        if decision.action == "skip":
            ended = self._apply(rid, skip(decision.reason, opted_out), record, member)
            return f"skipped:{decision.reason}", ended is not None
        if decision.action == "defer":
            ended = self._apply(rid, defer(decision.when), record, member)
            return "deferred", ended is not None

        try:
            message = self.composer.compose(
                record, reminder, self.vault.open(record.contact), policy, now
            )
        except NoAddress:
            ended = self._apply(rid, skip("no_contact", opted_out), record, member)
            return "skipped:no_contact", ended is not None
        send = Send(member, rid, record, reminder.channel, message, policy, opted_out)
        # The same lease, send and record as a batch's, with one member (the
        # member's lease is ended by its outcome's write, or by _send_all).
        return self._send_all([(0, send)], INLINE)[0], True
