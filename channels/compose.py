"""From a stored reminder to the message a channel sends.

The composer reads the deadline document, the citizen's contact (opened from
the vault by the caller) and the agency's policy, and renders SMS text, an
email with its links, or an invite email that carries the iCalendar file.
Messages are in French; for a citizen whose record asks for English, the
English is added after the French (Québec's Charter of the French
language). Titles fall back to the other locale when the agency gave only
one; the agency's display name falls back to its slug.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from reminders.clock import from_epoch
from reminders.ids import deadline_tag, reminder_id
from reminders.links import STOP_LINK_TTL, Links
from reminders.policy import Policy
from reminders.record import DeadlineRecord, ReminderRecord
from reminders.vault import Contact

from .base import Attachment, Message
from .calendar import Invite, build_invite, invite_uid
from .templates import ReminderContent, RenderedEmail, Renderer


class NoAddress(Exception):
    """The citizen has no address for this channel (a planning bug upstream)."""


@dataclass(frozen=True, slots=True)
class Composer:
    """Renders messages; build once per process."""

    renderer: Renderer
    links: Links
    organizer_email: str
    calendar_domain: str

    def content(
        self, record: DeadlineRecord, reminder: ReminderRecord, policy: Policy, now: datetime
    ) -> ReminderContent:
        """What the reminder says in French, with the English added when the
        citizen's record asks for English."""
        rid = reminder_id(deadline_tag(record.agency, record.ref), reminder.seq)
        due = from_epoch(record.due)
        snooze = None
        if reminder.channel != "calendar" and due - now > timedelta(hours=1):
            snooze = self.links.url("snooze", rid, due)
        french = ReminderContent(
            reminder_id=rid,
            agency_name=agency_name(record, policy, "fr"),
            title=title(record, "fr"),
            due=due,
            all_day=record.all_day,
            timezone=record.timezone,
            locale="fr",
            action_url=record.action_url,
            snooze_url=snooze,
            optout_url=self.links.url("stop", rid, now + STOP_LINK_TTL),
        )
        if record.locale != "en":
            return french
        english = replace(
            french,
            agency_name=agency_name(record, policy, "en"),
            title=title(record, "en"),
            locale="en",
        )
        return replace(french, english=english)

    def compose(
        self,
        record: DeadlineRecord,
        reminder: ReminderRecord,
        contact: Contact,
        policy: Policy,
        now: datetime,
    ) -> Message:
        content = self.content(record, reminder, policy, now)
        if reminder.channel == "sms":
            if not contact.phone:
                raise NoAddress("sms")
            return Message(
                reminder_id=content.reminder_id,
                channel="sms",
                to=contact.phone,
                locale=record.locale,
                text=self.renderer.sms(content),
            )
        if not contact.email:
            raise NoAddress(reminder.channel)
        if reminder.channel == "email":
            return _email(content, self.renderer.email(content), contact.email, policy)
        cancel = reminder.kind == "invite_cancel"
        email = self.renderer.withdrawn(content) if cancel else self.renderer.email(content)
        ics = build_invite(
            Invite(
                uid=invite_uid(deadline_tag(record.agency, record.ref), self.calendar_domain),
                sequence=record.invite_seq,
                method="CANCEL" if cancel else "REQUEST",
                organizer_email=policy.reply_to or self.organizer_email,
                organizer_name=content.agency_name,
                attendee_email=contact.email,
                summary=f"{content.agency_name} : {content.title}"
                if content.english is None
                else f"{content.agency_name} : {content.title} / {content.english.title}",
                description=email.text,
                due=content.due,
                all_day=record.all_day,
                timezone=record.timezone,
                alarms=tuple(timedelta(seconds=s) for s in record.offsets_s),
                stamp=now,
                url=record.action_url,
            )
        )
        return replace(
            _email(content, email, contact.email, policy),
            channel="calendar",
            attachments=(Attachment("invite.ics", "application/ics", ics),),
            calendar=ics,
        )


def _email(content: ReminderContent, email: RenderedEmail, to: str, policy: Policy) -> Message:
    return Message(
        reminder_id=content.reminder_id,
        channel="email",
        to=to,
        locale=content.locale,
        text=email.text,
        subject=email.subject,
        html=email.html,
        reply_to=policy.reply_to,
        sender_name=content.agency_name,
        unsubscribe_url=content.optout_url,
    )


def agency_name(record: DeadlineRecord, policy: Policy, lang: str) -> str:
    names = policy.display_name
    return names.get(lang) or next(iter(names.values()), record.agency.upper())


def title(record: DeadlineRecord, lang: str) -> str:
    return record.title.get(lang) or next(iter(record.title.values()))
