"""Choosing and building the channels from settings (``REMINDERS_PROVIDER``).

``sandbox`` (the default) needs no account; ``live`` sends through Twilio
and SendGrid and refuses to start without their credentials: a worker that
would fail every send is better stopped at start-up with the names of the
missing settings. Every channel is wrapped in :class:`TimedChannel`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import partial

import redis

from reminders.clock import Clock
from reminders.errors import ConfigurationError
from reminders.lifecycle.receipts import DeliveryReport
from reminders.redis.keys import Keys
from reminders.settings import Settings

from .base import Channel, TimedChannel
from .sandbox import DelayedReceipts, SandboxChannel, start_outage
from .sendgrid_email import SendGridEmail, sendgrid_client
from .twilio_sms import STATUS_PATH, Sender, TwilioSms, twilio_client

CHANNELS = ("sms", "email", "calendar")


def missing_live_settings(settings: Settings) -> list[str]:
    """The ``REMINDERS_*`` names a live provider needs and does not have."""
    missing = [
        name
        for name, value in (
            ("REMINDERS_TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("REMINDERS_TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
            ("REMINDERS_SENDGRID_API_KEY", settings.sendgrid_api_key),
            ("REMINDERS_EMAIL_FROM", settings.email_from),
        )
        if not value
    ]
    if not (settings.twilio_messaging_service_sid or settings.twilio_from_number):
        missing.append("REMINDERS_TWILIO_MESSAGING_SERVICE_SID (or REMINDERS_TWILIO_FROM_NUMBER)")
    return missing


@dataclass
class ChannelSet:
    """The channels of one process, by name, and what must be closed."""

    provider: str
    channels: Mapping[str, Channel]
    receipts: DelayedReceipts | None = None
    outage: Callable[[datetime], object] | None = None
    """Sandbox only: simulates a provider outage until the given instant."""

    def __getitem__(self, name: str) -> Channel:
        return self.channels[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.channels)

    def close(self) -> None:
        if self.receipts is not None:
            self.receipts.close()

    def outage_until(self, until: datetime) -> None:
        """Sandbox only: every send fails transiently (503) until ``until``
        on the service's clock (drills, tests)."""
        if self.outage is None:
            raise ValueError("only the sandbox provider can simulate an outage")
        self.outage(until)


def build_channels(
    settings: Settings,
    *,
    clock: Clock,
    client: redis.Redis,
    outcomes: Callable[[DeliveryReport], object],
    outcomes_many: Callable[[list[DeliveryReport]], object] | None = None,
) -> ChannelSet:
    """The channels ``settings`` ask for. ``outcomes`` takes the sandbox's
    receipts (live receipts come through the web app's webhooks);
    ``outcomes_many`` takes many at once."""
    if settings.provider == "sandbox":
        keys = Keys(settings.key_prefix)
        receipts = DelayedReceipts(
            outcomes,
            clock,
            delay_s=settings.sandbox_receipt_delay_s,
            client=client,
            keys=keys,
            sink_many=outcomes_many,
        )
        sandbox = {
            name: TimedChannel(
                SandboxChannel(
                    name,
                    client=client,
                    keys=keys,
                    receipts=receipts,
                    clock=clock,
                )
            )
            for name in CHANNELS
        }
        outage = partial(start_outage, client, keys)
        return ChannelSet("sandbox", sandbox, receipts, outage)
    missing = missing_live_settings(settings)
    if missing:
        raise ConfigurationError(
            "REMINDERS_PROVIDER=live needs these settings: " + ", ".join(missing)
        )
    assert settings.twilio_account_sid and settings.twilio_auth_token
    assert settings.sendgrid_api_key and settings.email_from
    twilio = twilio_client(
        settings.twilio_account_sid,
        settings.twilio_auth_token.get_secret_value(),
        base_url=settings.twilio_base_url,
        connect_timeout_s=settings.provider_connect_timeout_s,
        read_timeout_s=settings.provider_read_timeout_s,
    )
    sendgrid = sendgrid_client(
        settings.sendgrid_api_key.get_secret_value(),
        base_url=settings.sendgrid_base_url,
        timeout_s=settings.provider_read_timeout_s,
    )
    sms = TwilioSms(
        twilio,
        sender=Sender(settings.twilio_messaging_service_sid, settings.twilio_from_number),
        status_callback=settings.public_url.rstrip("/") + STATUS_PATH,
        clock=clock,
    )
    live: dict[str, Channel] = {
        "sms": TimedChannel(sms),
        "email": TimedChannel(SendGridEmail(sendgrid, sender=settings.email_from, clock=clock)),
        "calendar": TimedChannel(
            SendGridEmail(sendgrid, sender=settings.email_from, clock=clock, name="calendar")
        ),
    }
    return ChannelSet("live", live)
