"""The channel interface: a rendered message in, a provider receipt out.

Every real channel is wrapped in :class:`TimedChannel`, which times and logs
each send with the recipient masked: no personal data reaches the logs.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Literal, Protocol

from reminders.values import value_type

from .errors import ChannelError

ChannelKind = Literal["sms", "email", "calendar"]
log = logging.getLogger("reminders.channels")


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an email (the invite's .ics)."""

    filename: str
    content_type: str
    content: bytes


@value_type
class Message:
    """What a channel sends: already rendered, addressed, and tagged with
    the reminder id (the only identifier providers get back to us)."""

    reminder_id: str
    channel: ChannelKind
    to: str
    locale: str
    text: str
    subject: str = ""
    html: str = ""
    reply_to: str | None = None
    sender_name: str = ""
    """Display name of the sender (the agency), for email."""
    unsubscribe_url: str | None = None
    attachments: tuple[Attachment, ...] = field(default=())
    calendar: bytes | None = None
    """An iCalendar body to send inline as text/calendar (invites)."""

    def __repr__(self) -> str:  # the address and content are personal data
        return f"Message({self.channel}, reminder={self.reminder_id}, to={mask(self.to)})"


@value_type
class ProviderReceipt:
    """A provider accepted the message."""

    provider: str
    provider_id: str
    accepted_at: datetime


SendMany = Callable[[Sequence[Message]], list[ProviderReceipt | Exception]]
"""Sends several messages in one provider call: each one's receipt, or the
error it met, in order."""


class Channel(Protocol):
    """Sends one message or raises a ChannelError subclass. A channel whose
    provider takes several messages in one call also has a ``send_many``
    (a :data:`SendMany`)."""

    name: str

    def send(self, message: Message) -> ProviderReceipt: ...


def mask(address: str) -> str:
    """``+1514•••0123`` for phones, ``a•••@example.ca`` for emails."""
    if "@" in address:
        local, _, domain = address.rpartition("@")
        return f"{local[:1]}•••@{domain}"
    if len(address) <= 6:
        return "•••"
    return f"{address[:5]}•••{address[-2:]}"


class TimedChannel:
    """Wraps a channel: times and logs every send, masked. Its
    :attr:`send_many` is the inner channel's, logged, or None."""

    def __init__(self, inner: Channel) -> None:
        self.inner = inner
        self.name = inner.name
        many = getattr(inner, "send_many", None)
        self.send_many: SendMany | None = None if many is None else partial(self._send_many, many)

    def send(self, message: Message) -> ProviderReceipt:
        started = time.perf_counter()
        try:
            receipt = self.inner.send(message)
        except ChannelError as err:
            self._failed(message, err, started)
            raise
        self._sent(message, receipt, started)
        return receipt

    def _send_many(
        self, many: SendMany, messages: Sequence[Message]
    ) -> list[ProviderReceipt | Exception]:
        started = time.perf_counter()
        results = many(messages)
        for message, result in zip(messages, results, strict=True):
            if isinstance(result, ProviderReceipt):
                self._sent(message, result, started)
            elif isinstance(result, ChannelError):
                self._failed(message, result, started)
        return results

    def _sent(self, message: Message, receipt: ProviderReceipt, started: float) -> None:
        log.info(
            "sent channel=%s reminder=%s to=%s provider=%s id=%s ms=%.1f",
            self.name, message.reminder_id, mask(message.to), receipt.provider,
            receipt.provider_id, (time.perf_counter() - started) * 1000,
        )  # fmt: skip

    def _failed(self, message: Message, err: ChannelError, started: float) -> None:
        log.warning(
            "send failed channel=%s reminder=%s to=%s provider=%s code=%s kind=%s ms=%.1f",
            self.name, message.reminder_id, mask(message.to), err.provider, err.code,
            type(err).__name__, (time.perf_counter() - started) * 1000,
        )  # fmt: skip
