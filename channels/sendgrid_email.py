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
"""

from __future__ import annotations

import base64
import socket
from typing import Any
from urllib.error import URLError

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment,
    Content,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    From,
    Header,
    Mail,
    ReplyTo,
    To,
)

from reminders.clock import Clock

from .base import Message, ProviderReceipt
from .errors import ChannelError, PermanentChannelError, TransientChannelError

PROVIDER = "sendgrid"
DEFAULT_BASE_URL = "https://api.sendgrid.com"
REMINDER_ARG = "reminder_id"

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
