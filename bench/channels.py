"""Channel benchmark: prints one JSON document of figures.

    python -m bench.channels [--renders 3000] [--sends 500]

- messages rendered per second per channel: an SMS (text fitted to two
  segments), an email (text and HTML by Jinja2), an invite (the email plus the
  iCalendar file with its VTIMEZONE), each from a stored deadline record
  through the composer, as a worker does;
- sends per second through the real Twilio and SendGrid SDKs, one thread,
  over loopback HTTP against the fake servers of the test suite (so this is
  the SDKs' and our own overhead, not the providers' latency).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from channels.base import Channel, Message
from channels.compose import Composer
from channels.sendgrid_email import SendGridEmail, sendgrid_client
from channels.templates import Renderer
from channels.twilio_sms import Sender, TwilioSms, twilio_client
from reminders import ManualClock
from reminders.links import Links
from reminders.policy import Policy
from reminders.record import DeadlineRecord, ReminderRecord
from reminders.vault import Contact
from tests.fakes.providers import FakeSendGrid, FakeTwilio

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def record() -> DeadlineRecord:
    due = int((NOW + timedelta(days=30)).timestamp())
    return DeadlineRecord(
        version=1,
        agency="saaq",
        ref="permit-2026-00042",
        due=due,
        all_day=False,
        timezone="America/Toronto",
        locale="fr",
        title={"fr": "Renouveler votre permis de conduire", "en": "Renew your driving licence"},
        action_url="https://saaq.example.gouv.qc.ca/renouveler",
        channels=["sms", "email", "calendar"],
        offsets_s=[7 * 86400, 86400],
        contact="",
        phone_hash="",
        email_hash="",
        fingerprint="",
        invite_seq=1,
    )


def per_second(count: int, action: Callable[[], object]) -> float:
    started = time.perf_counter()
    for _ in range(count):
        action()
    return count / (time.perf_counter() - started)


def renders(count: int) -> dict[str, float]:
    composer = Composer(
        renderer=Renderer(),
        links=Links("https://rappels.example.ca", "k" * 32),
        organizer_email="rappels@example.gouv.qc.ca",
        calendar_domain="rappels.example.gouv.qc.ca",
    )
    doc = record()
    contact = Contact(phone="+15145550123", email="citoyen@example.ca")
    policy = Policy(display_name={"fr": "SAAQ"})
    figures: dict[str, float] = {}
    for channel, kind in (("sms", "offset"), ("email", "offset"), ("calendar", "invite")):
        reminder = ReminderRecord(seq=1, channel=channel, send_at=0, kind=kind)  # type: ignore[arg-type]
        composer.compose(doc, reminder, contact, policy, NOW)  # warm up
        figures[f"render_{channel}_per_s"] = round(
            per_second(count, partial(composer.compose, doc, reminder, contact, policy, NOW))
        )
    return figures


def sends(count: int) -> dict[str, float]:
    clock = ManualClock(NOW)
    twilio_fake = FakeTwilio().start()
    sendgrid_fake = FakeSendGrid().start()
    try:
        sms: Channel = TwilioSms(
            twilio_client(
                twilio_fake.account_sid, twilio_fake.auth_token, base_url=twilio_fake.url
            ),
            sender=Sender(messaging_service_sid="MG" + "0" * 32),
            status_callback="https://rappels.example.ca/webhooks/twilio/status",
            clock=clock,
        )
        email: Channel = SendGridEmail(
            sendgrid_client(sendgrid_fake.api_key, base_url=sendgrid_fake.url),
            sender="rappels@example.gouv.qc.ca",
            clock=clock,
        )
        text = "SAAQ : Renouveler votre permis, au plus tard le mardi 15 décembre. ARRET."
        sms_message = Message("0" * 20 + "-1", "sms", "+15145550123", "fr", text)
        email_message = Message(
            "0" * 20 + "-2", "email", "citoyen@example.ca", "fr", text, "Rappel", f"<p>{text}</p>"
        )
        figures: dict[str, float] = {}
        for name, channel, message in (
            ("twilio_sms", sms, sms_message),
            ("sendgrid_email", email, email_message),
        ):
            channel.send(message)  # warm up: connection, imports
            figures[f"send_{name}_per_s"] = round(
                per_second(count, partial(channel.send, message)), 1
            )
        return figures
    finally:
        twilio_fake.stop()
        sendgrid_fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=3000)
    parser.add_argument("--sends", type=int, default=500)
    args = parser.parse_args()
    print(json.dumps({**renders(args.renders), **sends(args.sends)}, indent=2))


if __name__ == "__main__":
    main()
