"""SMS through Twilio's Programmable Messaging, with the ``twilio`` SDK.

The SDK is pointed at ``REMINDERS_TWILIO_BASE_URL`` through its supported
hook, a custom ``HttpClient``: requests for ``*.twilio.com`` are re-rooted
there (a regional endpoint, or a local fake in tests). Connect and read
timeouts are set on every request.

Error mapping (Twilio's REST error codes):

- HTTP 429, code 20429, HTTP 5xx, timeouts and connection errors are
  transient: try again later.
- Any other 4xx is permanent for this address on this channel: 21211 (not a
  valid number), 21610 (the citizen replied STOP to our sender), 21614 (not a
  mobile number), 21408 (region not enabled), 21612 (cannot route), and the
  rest, which Twilio documents as client errors that will fail again unchanged.

Error messages are ours, never Twilio's: Twilio's text quotes the phone number.

Receipts: Twilio posts each status change of a message to the status
callback URL given with it, ``<public URL>/webhooks/twilio/status?r=<reminder
id>`` (:data:`CALLBACK_PARAM`), so a receipt finds its reminder without a
lookup table; :func:`status_report` turns that callback into a
:class:`DeliveryReport`. The web app checks the signature and routes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from reminders.clock import Clock
from reminders.ids import split_reminder_id
from reminders.lifecycle.receipts import DeliveryReport, ReportStatus

from .base import Message, ProviderReceipt
from .errors import ChannelError, PermanentChannelError, TransientChannelError

PROVIDER = "twilio"
DEFAULT_BASE_URL = "https://api.twilio.com"
STATUS_PATH = "/webhooks/twilio/status"
"""Where Twilio posts message status callbacks (under the public URL)."""
INBOUND_PATH = "/webhooks/twilio/inbound"
"""Where the messaging service posts citizens' replies."""
CALLBACK_PARAM = "r"
"""The status callback's query parameter that carries the reminder id."""

STATUSES: dict[str, ReportStatus | None] = {
    "accepted": "accepted",
    "scheduled": "accepted",
    "queued": "accepted",
    "sending": "accepted",
    "sent": "accepted",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "undelivered",
    "canceled": "undelivered",
    "receiving": None,
    "received": None,
}
"""Twilio's MessageStatus values onto report statuses (None: nothing to record)."""
_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_CODE = re.compile(r"^\d{1,6}$")

KNOWN_CODES: dict[int, str] = {
    20003: "authentication failed (check the account SID and auth token)",
    20404: "resource not found (check the account SID)",
    20429: "too many requests",
    21211: "the 'To' number is not a valid phone number",
    21408: "permission to send to this region is not enabled",
    21606: "the 'From' number cannot send SMS",
    21610: "the recipient replied STOP to this sender",
    21612: "the 'To' number cannot be reached from this sender",
    21614: "the 'To' number is not a mobile number",
    21617: "the body exceeds the maximum length",
}
TRANSIENT_CODES = frozenset({20429, 30001})


class BaseUrlHttpClient(TwilioHttpClient):
    """The SDK's HTTP client, re-rooted at ``base_url``, with (connect, read)
    timeouts. Only ``*.twilio.com`` URLs are re-rooted."""

    def __init__(self, base_url: str, *, connect_timeout_s: float, read_timeout_s: float) -> None:
        quiet = logging.getLogger("reminders.channels.twilio_sdk")
        quiet.setLevel(logging.WARNING)  # the SDK logs every request at INFO
        super().__init__(pool_connections=True, logger=quiet)
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an http(s) base URL: {base_url!r}")
        self._root = (parts.scheme, parts.netloc, parts.path)
        # requests takes a (connect, read) pair where the SDK types a float;
        # the SDK uses self.timeout when a call passes none (it never does).
        self.timeout = (connect_timeout_s, read_timeout_s)

    def rebase(self, url: str) -> str:
        parts = urlsplit(url)
        if not parts.netloc.endswith("twilio.com"):
            return url
        scheme, netloc, path = self._root
        return urlunsplit((scheme, netloc, path + parts.path, parts.query, parts.fragment))

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: dict[str, object] | None = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        return super().request(
            method, self.rebase(url), params, data, headers, auth, None, allow_redirects
        )


def twilio_client(
    account_sid: str,
    auth_token: str,
    *,
    base_url: str = DEFAULT_BASE_URL,
    connect_timeout_s: float = 5.0,
    read_timeout_s: float = 10.0,
) -> Client:
    """A Twilio REST client whose requests go to ``base_url``."""
    http = BaseUrlHttpClient(
        base_url, connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s
    )
    return Client(account_sid, auth_token, http_client=http)


def classify(err: Exception) -> ChannelError:
    """The channel error for what the SDK (or requests under it) raised."""
    if isinstance(err, TwilioRestException):
        status = int(err.status)
        code = int(err.code) if err.code is not None else None
        label = str(code) if code is not None else f"http-{status}"
        text = KNOWN_CODES.get(code or 0, f"HTTP {status}")
        if status == 429 or status >= 500 or code in TRANSIENT_CODES:
            return TransientChannelError(PROVIDER, label, text)
        return PermanentChannelError(PROVIDER, label, text)
    if isinstance(err, requests.Timeout):
        return TransientChannelError(PROVIDER, "timeout", "no answer in time")
    if isinstance(err, requests.ConnectionError):
        return TransientChannelError(PROVIDER, "connection", "could not connect")
    if isinstance(err, requests.RequestException | TwilioException):
        return TransientChannelError(PROVIDER, "http", type(err).__name__)
    raise err


@dataclass(frozen=True, slots=True)
class Sender:
    """Where messages come from: a messaging service (preferred) or a number."""

    messaging_service_sid: str | None = None
    from_number: str | None = None

    def __post_init__(self) -> None:
        if not (self.messaging_service_sid or self.from_number):
            raise ValueError("a messaging service SID or a from-number is needed")

    def params(self) -> dict[str, str]:
        if self.messaging_service_sid:
            return {"messaging_service_sid": self.messaging_service_sid}
        assert self.from_number is not None
        return {"from_": self.from_number}


class TwilioSms:
    """The ``sms`` channel on Twilio."""

    name = "sms"

    def __init__(self, client: Client, *, sender: Sender, status_callback: str, clock: Clock):
        self.client = client
        self.sender = sender
        self.status_callback = status_callback
        self.clock = clock

    def callback_url(self, reminder_id: str) -> str:
        """The status webhook for one reminder: the id rides in the query so
        a receipt finds its reminder without a lookup table."""
        return f"{self.status_callback}?{CALLBACK_PARAM}={quote(reminder_id)}"

    def send(self, message: Message) -> ProviderReceipt:
        try:
            sent = self.client.messages.create(
                to=message.to,
                body=message.text,
                status_callback=self.callback_url(message.reminder_id),
                **self.sender.params(),
            )
        except Exception as err:
            raise classify(err) from None
        return ProviderReceipt(PROVIDER, str(sent.sid), self.clock.now())


def status_report(
    query: Mapping[str, str], form: Mapping[str, str], at: datetime
) -> DeliveryReport | str:
    """The report in a (verified) status callback, or why there is none:
    ``unknown_status``, ``ignored`` (nothing to record) or ``unplaced`` (no
    reminder of ours)."""
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    value = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if value not in STATUSES:
        return "unknown_status"
    mapped = STATUSES[value]
    if mapped is None:
        return "ignored"
    rid = query.get(CALLBACK_PARAM, "")
    if not _SID.match(sid) or split_reminder_id(rid) is None:
        return "unplaced"
    code = form.get("ErrorCode", "")
    return DeliveryReport(
        reminder_id=rid,
        provider=PROVIDER,
        provider_id=sid,
        status=mapped,
        at=at,
        code=code if _CODE.match(code) else "",
    )
