"""Delivering status callbacks to agencies: the ``callback`` actor's work.

One Dramatiq message per event (its id only). The worker loads the payload
the relay stored, signs it as Standard Webhooks says (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``) with the agency's secret, and
POSTs it to the agency's URL. A 2xx answer marks the event delivered, so a
duplicate message sends nothing; anything else raises, and Dramatiq retries
with exponential backoff until ``REMINDERS_CALLBACK_GIVE_UP_S`` after the
event (at least 24 hours by default), when the event is logged as given up.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable

import httpx
import redis

from reminders.agencies import AgencyRegistry
from reminders.callbacks import age_s, sign, stored_payload
from reminders.clock import Clock
from reminders.redis.keys import Keys

log = logging.getLogger("reminders.callbacks")


class CallbackFailed(Exception):
    """The agency's server did not take the event; Dramatiq retries it."""


class CallbackSender:
    """Signs and POSTs one event to its agency."""

    def __init__(
        self,
        *,
        client: redis.Redis,
        keys: Keys,
        agencies: AgencyRegistry,
        clock: Clock,
        give_up_s: int,
        http: httpx.Client | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.keys = keys
        self.agencies = agencies
        self.clock = clock
        self.give_up_s = give_up_s
        self.http = http or httpx.Client(timeout=httpx.Timeout(10.0, connect=5.0))
        self.wall = wall

    def deliver(self, webhook_id: str) -> str:
        """Send event ``webhook_id``; what happened (for logs and tests)."""
        done = self.keys.callback_done(webhook_id)
        if self.client.exists(done):
            return "duplicate"
        stored = stored_payload(self.client, self.keys, webhook_id)
        if stored is None:
            log.warning("callback %s expired before delivery", webhook_id)
            return "expired"
        agency = str(stored["agency"])
        target = self.agencies.callback(agency)
        if target is None:
            return "no_callback"
        if age_s(stored, self.clock.now()) > self.give_up_s:
            log.error("callback %s to agency=%s given up after retries", webhook_id, agency)
            return "given_up"
        body = json.dumps(stored["body"], separators=(",", ":"), ensure_ascii=False)
        timestamp = int(self.wall())
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(target.secret, webhook_id, timestamp, body),
            "user-agent": "deadline-reminders",
        }
        try:
            answer = self.http.post(target.url, content=body.encode(), headers=headers)
        except httpx.HTTPError as err:
            log.warning(
                "callback %s to agency=%s failed: %s", webhook_id, agency, type(err).__name__
            )
            raise CallbackFailed(type(err).__name__) from None
        if not 200 <= answer.status_code < 300:
            log.warning(
                "callback %s to agency=%s answered %d", webhook_id, agency, answer.status_code
            )
            raise CallbackFailed(f"HTTP {answer.status_code}")
        self.client.set(done, 1, ex=4 * 86400)
        log.info("callback %s to agency=%s delivered", webhook_id, agency)
        return "delivered"

    def close(self) -> None:
        self.http.close()
