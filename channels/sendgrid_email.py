"""Email (and calendar invites) through SendGrid's v3 Mail Send API, with
the ``sendgrid`` SDK.

The SDK is pointed at ``REMINDERS_SENDGRID_BASE_URL`` through its ``host``
argument; the timeout is set on its HTTP client (one socket timeout that
bounds the connect and every read).

Each email has a text and an HTML part, ``custom_args`` carrying only the
reminder id (SendGrid echoes them in every event, which is how a receipt finds
its reminder), ``List-Unsubscribe`` with one-click POST (RFC 8058) pointing at
the opt-out link, and the agency's reply-to. An invite adds a
``text/calendar; method=...`` part, which calendar clients show as an
invitation, and the same file as an ``invite.ics`` attachment for the rest.

Error mapping: 429, 5xx, timeouts and connection errors transient; 400, 401,
403 and other 4xx permanent. Error messages are ours: SendGrid's may quote
the address.

Receipts: SendGrid's event webhook posts batches of events, each echoing the
custom args; :func:`read_event` says what one (verified) event means. The web
app checks the batch's signature and routes.
"""

from __future__ import annotations

import base64
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    ClickTracking,
    Content,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Ganalytics,
    Header,
    Mail,
    OpenTracking,
    ReplyTo,
    SubscriptionTracking,
    To,
    TrackingSettings,
)

from reminders.clock import Clock, from_epoch
from reminders.ids import split_reminder_id
from reminders.lifecycle.receipts import DeliveryReport, ReportStatus

from .base import Message, ProviderReceipt
from .errors import ChannelError, PermanentChannelError, TransientChannelError

PROVIDER = "sendgrid"
DEFAULT_BASE_URL = "https://api.sendgrid.com"
REMINDER_ARG = "reminder_id"
"""The custom arg that carries the reminder id (echoed in every event)."""
EVENTS_PATH = "/webhooks/sendgrid/events"
"""Where SendGrid's event webhook posts (under the public URL)."""
SIGNATURE_HEADER = "x-twilio-email-event-webhook-signature"
TIMESTAMP_HEADER = "x-twilio-email-event-webhook-timestamp"

EVENTS: dict[str, ReportStatus] = {
    "processed": "accepted",
    "delivered": "delivered",
    "bounce": "undelivered",
    "dropped": "undelivered",
}
OPT_OUT_EVENTS = frozenset({"unsubscribe", "group_unsubscribe", "spamreport"})
"""The citizen does not want these emails: the address is opted out."""
NO_ACTION = frozenset({"deferred", "open", "click", "group_resubscribe"})
"""Deferred: SendGrid is still trying; opens and clicks are not tracked."""
_EVENT_ID = re.compile(r"^[A-Za-z0-9_=+/.-]{1,100}$")
_SMTP_STATUS = re.compile(r"^\d\.\d{1,3}\.\d{1,3}$")

KNOWN_STATUS: dict[int, str] = {
    400: "the request was refused as invalid",
    401: "authentication failed (check the API key)",
    403: "the API key may not send mail, or the sender is not verified",
    413: "the message is too large",
    429: "too many requests",
}


def sendgrid_client(
    api_key: str, *, base_url: str = DEFAULT_BASE_URL, timeout_s: float = 10.0
) -> SendGridAPIClient:
    """A SendGrid client whose requests go to ``base_url``."""
    client = SendGridAPIClient(api_key=api_key, host=base_url.rstrip("/"))
    # Children built per request path copy the timeout from this client.
    client.client.timeout = timeout_s
    return client


def classify(err: Exception) -> ChannelError:
    """The channel error for what the SDK (or urllib under it) raised."""
    if isinstance(err, HTTPError):
        status = int(err.status_code)
        text = KNOWN_STATUS.get(status, f"HTTP {status}")
        if status == 429 or status >= 500:
            return TransientChannelError(PROVIDER, str(status), text)
        return PermanentChannelError(PROVIDER, str(status), text)
    if isinstance(err, TimeoutError | socket.timeout):
        return TransientChannelError(PROVIDER, "timeout", "no answer in time")
    if isinstance(err, URLError):
        if isinstance(err.reason, TimeoutError):
            return TransientChannelError(PROVIDER, "timeout", "no answer in time")
        return TransientChannelError(PROVIDER, "connection", "could not connect")
    if isinstance(err, ConnectionError):
        return TransientChannelError(PROVIDER, "connection", "connection lost")
    raise err


class SendGridEmail:
    """The ``email`` channel on SendGrid; also carries calendar invites."""

    def __init__(
        self,
        client: SendGridAPIClient,
        *,
        sender: str,
        clock: Clock,
        name: str = "email",
    ) -> None:
        self.client = client
        self.sender = sender
        self.clock = clock
        self.name = name

    def mail(self, message: Message) -> dict[str, Any]:
        """The Mail Send request body for ``message``."""
        mail = Mail(
            from_email=From(self.sender, message.sender_name or None),
            to_emails=To(message.to),
            subject=message.subject,
            plain_text_content=message.text,
            html_content=message.html or None,
        )
        mail.add_custom_arg(CustomArg(REMINDER_ARG, message.reminder_id))
        # An account's click tracking would rewrite the signed snooze and stop
        # links (and its open tracking add a pixel): both off in every request,
        # whatever the account's defaults.
        mail.tracking_settings = TrackingSettings(
            click_tracking=ClickTracking(False, False),
            open_tracking=OpenTracking(False),
            subscription_tracking=SubscriptionTracking(False),
            ganalytics=Ganalytics(False),
        )
        if message.reply_to:
            mail.reply_to = ReplyTo(message.reply_to)
        if message.unsubscribe_url:
            mail.add_header(Header("List-Unsubscribe", f"<{message.unsubscribe_url}>"))
            mail.add_header(Header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"))
        if message.calendar is not None:
            method = calendar_method(message.calendar)
            mail.add_content(
                Content(f"text/calendar; method={method}", message.calendar.decode("utf-8"))
            )
        for item in message.attachments:
            mail.add_attachment(
                Attachment(
                    FileContent(base64.b64encode(item.content).decode("ascii")),
                    FileName(item.filename),
                    FileType(item.content_type),
                    Disposition("attachment"),
                )
            )
        body: dict[str, Any] = mail.get()
        return body

    def send(self, message: Message) -> ProviderReceipt:
        body = self.mail(message)
        try:
            response = self.client.send(body)
        except Exception as err:
            raise classify(err) from None
        headers = response.headers
        message_id = headers.get("X-Message-Id") if headers is not None else None
        if not message_id:
            # Accepted (202) but unnamed: receipts will still find the reminder
            # through custom_args, so this is not a failure.
            message_id = f"unnamed-{message.reminder_id}"
        return ProviderReceipt(PROVIDER, str(message_id), self.clock.now())


def calendar_method(ics: bytes) -> str:
    """The METHOD of an iCalendar body (REQUEST or CANCEL)."""
    for line in ics.splitlines():
        if line.startswith(b"METHOD:"):
            return line[7:].strip().decode("ascii")
    return "PUBLISH"


@dataclass(frozen=True, slots=True)
class OptOutEvent:
    """The citizen unsubscribed or reported spam: opt ``address`` out."""

    address: str


Event = DeliveryReport | OptOutEvent | str
"""What one event asks for: a receipt, an opt-out, or a word for what it is
(``malformed``, ``unplaced``, ``unknown_event``, or a no-action event name)."""


def event_id(event: Mapping[str, Any]) -> str | None:
    """The event's ``sg_event_id`` when it is one (it de-duplicates copies)."""
    value = event.get("sg_event_id")
    return value if isinstance(value, str) and _EVENT_ID.match(value) else None


def read_event(event: Mapping[str, Any], now: datetime) -> Event:
    """What one (verified) event of the webhook means."""
    kind = event.get("event")
    if not isinstance(kind, str):
        return "malformed"
    if kind in OPT_OUT_EVENTS:
        address = event.get("email")
        return OptOutEvent(address) if isinstance(address, str) else "malformed"
    if kind in NO_ACTION:
        return kind
    status = EVENTS.get(kind)
    if status is None:
        return "unknown_event"
    rid = event.get(REMINDER_ARG)
    message_id = event.get("sg_message_id")
    if not isinstance(rid, str) or split_reminder_id(rid) is None:
        return "unplaced"
    # "<X-Message-Id>.filter...": the first part is what the send returned.
    provider_id = message_id.split(".", 1)[0] if isinstance(message_id, str) else ""
    stamp = event.get("timestamp")
    at = now
    if isinstance(stamp, int) and 0 < stamp < now.timestamp():
        at = from_epoch(stamp)  # when it happened, not when we heard
    smtp = event.get("status")
    code = kind if not (isinstance(smtp, str) and _SMTP_STATUS.match(smtp)) else f"{kind} {smtp}"
    return DeliveryReport(rid, PROVIDER, provider_id, status, at, code)
