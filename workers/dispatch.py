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
import secrets
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, wait

from channels.base import Channel
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
from reminders.vault import ContactVault

from .ratelimit import ProviderLimiter

log = logging.getLogger("reminders.dispatch")


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
        self.last_sms_ttl_s = last_sms_ttl_s
        """Called with each member once handled: releases its redelivery lease."""

    def _apply(
        self, rid: str, change: Change, loaded: DeadlineRecord | None, member: str = ""
    ) -> Applied | None:
        """Apply ``change``; a ``member`` given is handled by this write (its
        lease ends in the same step)."""
        handled = (member,) if member else ()
        return patiently(
            lambda: self.transitions.apply(rid, change, loaded=loaded, handled=handled)
        )

    def _take_lease(self, rid: str, record: DeadlineRecord) -> DeadlineRecord | None:
        """The document once this worker holds the ``sending`` lease, else
        None. A lease write whose reply was lost may have landed: it is ours
        when it carries our token (then it is never taken twice, nor lost)."""
        token = secrets.token_hex(6)
        change = take_lease(self.no_receipt_after_s, token)
        applied = patiently(lambda: self.transitions.apply(rid, change, loaded=record))
        if applied is not None:
            return applied.record
        parts = split_reminder_id(rid)
        assert parts is not None
        current = patiently(lambda: self.store.load(parts[0]))
        reminder = None if current is None else current.reminder(parts[1])
        if reminder is not None and reminder.state == "sending" and reminder.lease == token:
            return current
        return None

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
        """Handle the members of one message concurrently, each its own
        state machine; what happened to each. When one raised (Redis away),
        the others still ran and the first error is raised once all are
        done: Dramatiq retries the message, and the members already handled
        are no-ops the second time."""
        if len(members) == 1:
            return [self.dispatch(members[0])]
        futures = [pool.submit(self.dispatch, member) for member in members]
        wait(futures)
        for future in futures:
            error = future.exception()
            if error is not None:
                raise error
        return [future.result() for future in futures]

    def dispatch(self, member: str) -> str:
        """Handle one schedule member; returns what happened (for logs and tests)."""
        outcome, lease_ended = self._dispatch(member)
        if self.handled is not None and not lease_ended:
            done = self.handled
            patiently(lambda: done(member))
        return outcome

    def _dispatch(self, member: str) -> tuple[str, bool]:
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
        record = patiently(lambda: self.store.load(tag))
        reminder = None if record is None else record.reminder(parts[1])
        if record is None or reminder is None:
            return "ignored", False
        opted, failed = patiently(
            lambda: self.store.address_state(record.phone_hash, record.email_hash)
        )
        # Channels the citizen cannot receive now: opted out, or an address a
        # provider reported bad (fallbacks avoid both).
        opted_out = opted | failed
        policy = self.policies.for_agency(record.agency)
        registry = self.agencies
        if not policy.display_name and registry is not None:
            # The names the agency was registered with, unless its policy names it.
            names = patiently(lambda: registry.display_names(record.agency))
            policy = policy.model_copy(update={"display_name": names})
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

        channel = self.channels[reminder.channel]
        try:
            message = self.composer.compose(
                record, reminder, self.vault.open(record.contact), policy, now
            )
        except NoAddress:
            ended = self._apply(rid, skip("no_contact", opted_out), record, member)
            return "skipped:no_contact", ended is not None
        if self.limiter is not None:
            self.limiter.wait(reminder.channel)
        held = self._take_lease(rid, record)
        if held is None:
            return "ignored", False
        try:
            receipt = channel.send(message)
        except TransientChannelError as err:
            change = record_transient(err.provider, err.code, self.retry, self.rng, opted_out)
            applied = self._apply(rid, change, held, member)
            state = applied.reminder.state if applied else "unknown"
            if state == "planned" and applied is not None:
                at = applied.reminder.send_at
                log.info("retry reminder=%s code=%s at=%d", rid, err.code, at)
                return "retry", True
            log.warning("failed reminder=%s code=%s (no time left to retry)", rid, err.code)
            return "failed", applied is not None
        except PermanentChannelError as err:
            change = record_permanent(err.provider, err.code, opted_out)
            ended = self._apply(rid, change, held, member)
            log.warning("failed reminder=%s provider=%s code=%s", rid, err.provider, err.code)
            self._remember_bad_address(record, reminder.channel, err.code, policy)
            return "failed", ended is not None
        except Exception:
            # A bug or an unexpected SDK error: we cannot know whether the
            # provider took it, so the reminder stays ``sending`` (never sent
            # twice) and ends ``no_receipt`` unless a receipt comes.
            log.exception("send raised reminder=%s", rid)
            return "unknown", False
        change = record_sent(receipt.provider, receipt.provider_id, self.no_receipt_after_s)
        # The provider has it: this record must land, so wait out a Redis restart.
        ended = self._apply(rid, change, held, member)
        if reminder.channel == "sms":
            # So a "SNOOZE 2" reply from this number finds this reminder.
            ttl = self.last_sms_ttl_s
            patiently(lambda: self.store.note_last_sms(record.phone_hash, rid, ttl))
        return "sent", ended is not None
