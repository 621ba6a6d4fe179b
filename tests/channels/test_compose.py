"""From a stored reminder to the message: addresses, links, locale, invites."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from icalendar import Calendar

from channels.base import Message
from channels.compose import Composer, NoAddress
from channels.sms_text import measure
from channels.templates import Renderer
from reminders import Deadline, ManualClock, ReminderService
from reminders.ids import deadline_tag
from reminders.lifecycle.transitions import Effect
from reminders.links import Links
from reminders.record import DeadlineRecord, ReminderRecord
from reminders.wiring import Core
from tests.conftest import deadline_data

SIGNING_KEY = "s" * 32


@pytest.fixture
def composer() -> Composer:
    return Composer(
        renderer=Renderer(),
        links=Links("https://rappels.example.ca", SIGNING_KEY),
        organizer_email="rappels@example.gouv.qc.ca",
        calendar_domain="rappels.example.gouv.qc.ca",
    )


def stored(core: Core, **overrides: object) -> DeadlineRecord:
    data = deadline_data(**overrides)
    core.service.register(Deadline.model_validate(data))
    record = core.store.load(deadline_tag(data["agency"], data["ref"]))
    assert record is not None
    return record


def compose(
    composer: Composer,
    core: Core,
    clock: ManualClock,
    record: DeadlineRecord,
    channel: str,
    kind: str | None = None,
) -> Message:
    reminder = next(
        r for r in record.reminders if r.channel == channel and (kind is None or r.kind == kind)
    )
    contact = core.vault.open(record.contact)
    policy = core.policies.for_agency(record.agency)
    return composer.compose(record, reminder, contact, policy, clock.now())


def test_an_sms_goes_to_the_phone_in_the_citizens_language(
    core: Core, composer: Composer, service: ReminderService, clock: ManualClock
) -> None:
    record = stored(core)
    message = compose(composer, core, clock, record, "sms")

    assert message.to == "+15145550123"
    assert message.text.startswith("SAAQ : Renouveler votre permis")
    assert "ARRET" in message.text
    assert message.reminder_id.startswith(deadline_tag("saaq", "permit-2026-00042"))


def test_an_email_carries_signed_snooze_and_stop_links_and_the_agency_name(
    core: Core, composer: Composer, service: ReminderService, clock: ManualClock
) -> None:
    record = stored(core, channels=["email"], citizen={"locale": "en"})
    message = compose(composer, core, clock, record, "email")

    assert message.to == "a@example.ca"
    # French first, English added for a citizen whose record asks for it.
    assert message.subject.startswith("Rappel : Renouveler votre permis")
    assert " / Reminder: Renew your licence" in message.subject
    assert message.sender_name == "SAAQ"
    assert message.unsubscribe_url is not None
    token = message.unsubscribe_url.rsplit("/", 1)[1]
    claim = composer.links.verify(token, now=clock.now(), action="stop")
    assert claim.reminder_id == message.reminder_id
    assert "/snooze/" in message.text and "/snooze/" in message.html
    assert "https://example.gouv.qc.ca/renew" in message.html


def test_messages_are_in_french_and_english_is_added_after_it_when_asked(
    core: Core, composer: Composer, service: ReminderService, clock: ManualClock
) -> None:
    french = compose(composer, core, clock, stored(core, ref="fr-1"), "sms")
    assert "Renouveler votre permis" in french.text and "Renew" not in french.text

    record = stored(core, ref="en-1", citizen={"locale": "en"})
    sms = compose(composer, core, clock, record, "sms")
    assert sms.text.index("Renouveler votre permis") < sms.text.index("Renew your licence")
    assert "ARRET / STOP" in sms.text and "décembre" in sms.text  # GSM-7 accents kept
    assert measure(sms.text).segments <= 2

    email = compose(composer, core, clock, stored(core, ref="en-2", channels=["email"],
                                                  citizen={"locale": "en"}), "email")  # fmt: skip
    assert email.text.index("Bonjour") < email.text.index("Hello")
    assert email.html is not None
    assert email.html.index('<div lang="fr">') < email.html.index('<div lang="en">')
    assert email.html.startswith("<!doctype html>") and "<head>" in email.html


def test_the_title_falls_back_to_the_other_locale(
    core: Core, composer: Composer, service: ReminderService, clock: ManualClock
) -> None:
    record = stored(
        core,
        channels=["email"],
        title={"fr": "Produire votre déclaration"},
        citizen={"locale": "en"},
    )
    message = compose(composer, core, clock, record, "email")

    assert "Produire votre déclaration" in message.subject


def test_an_invite_is_an_email_with_a_request_for_the_deadline(
    core: Core, composer: Composer, service: ReminderService, clock: ManualClock
) -> None:
    record = stored(core)
    message = compose(composer, core, clock, record, "calendar")

    assert message.channel == "calendar" and message.calendar is not None
    assert [a.filename for a in message.attachments] == ["invite.ics"]
    cal = Calendar.from_ical(message.calendar)
    assert str(cal["method"]) == "REQUEST"
    (event,) = cal.walk("VEVENT")
    tag = deadline_tag("saaq", "permit-2026-00042")
    assert str(event["uid"]) == f"deadline-{tag}@rappels.example.gouv.qc.ca"
    assert str(event["attendee"]) == "mailto:a@example.ca"
    assert sorted(a.decoded("trigger") for a in event.walk("VALARM")) == [
        -timedelta(days=7),
        -timedelta(days=1),
    ]


def test_completing_after_the_invite_went_out_composes_a_cancel(
    core: Core, composer: Composer, service: ReminderService, clock: ManualClock
) -> None:
    record = stored(core)
    invite = next(r for r in record.reminders if r.channel == "calendar")

    def sent(_: DeadlineRecord, reminder: ReminderRecord, now: int) -> Effect:
        reminder.state = "sent"
        return Effect("sent", "test")

    rid = f"{deadline_tag('saaq', 'permit-2026-00042')}-{invite.seq}"
    assert core.transitions.apply(rid, sent) is not None
    service.complete("saaq", "permit-2026-00042")
    closed = core.store.load(deadline_tag("saaq", "permit-2026-00042"))
    assert closed is not None

    message = compose(composer, core, clock, closed, "calendar", "invite_cancel")

    assert message.calendar is not None
    cal = Calendar.from_ical(message.calendar)
    assert str(cal["method"]) == "CANCEL"
    (event,) = cal.walk("VEVENT")
    assert event.decoded("sequence") == closed.invite_seq >= 2
    assert message.subject.startswith("Rappel retiré")


def test_a_channel_without_an_address_is_refused(
    core: Core, composer: Composer, service: ReminderService, clock: ManualClock
) -> None:
    record = stored(core, channels=["email"], citizen={"phone": None})
    reminder = record.reminders[0]

    with pytest.raises(NoAddress):
        composer.compose(
            record,
            replace(reminder, channel="sms"),
            core.vault.open(record.contact),
            core.policies.for_agency("saaq"),
            clock.now(),
        )
