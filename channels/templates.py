"""Rendering reminders per locale (French first, English).

Dates are written the way people in the locale write them ("mardi
15 décembre 2026 à 17 h 00", "Tuesday, December 15, 2026 at 5:00 PM") in
the citizen's own time zone. Emails come from Jinja2 templates (HTML
autoescaped), each rendered once per branch and then filled in
(:class:`_Skeletons`); SMS are fitted into two segments (see :mod:`channels.sms_text`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime

from jinja2 import DictLoader, Environment, StrictUndefined, Template, select_autoescape
from markupsafe import escape

from reminders.models import zone
from reminders.values import value_type

from .sms_text import fit

MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
           "septembre", "octobre", "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}  # fmt: skip
WEEKDAYS = {
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}

SMS = {
    "fr": "{agency} : {title}, au plus tard le {date}.{link} "
    "Répondez RAPPEL 2 pour un rappel dans 2 jours, ARRET pour ne plus en recevoir.",
    "en": "{agency}: {title}, by {date}.{link} "
    "Reply SNOOZE 2 to be reminded in 2 days, STOP to opt out.",
}
BILINGUAL_SMS = (
    "{agency} : {title_fr}, au plus tard le {date_fr}. / {title_en}, by {date_en}.{link} "
    "RAPPEL 2 / SNOOZE 2 : dans 2 jours / in 2 days. ARRET / STOP : ne plus recevoir / opt out."
)
"""French first, English added (Charter of the French language): for the
citizens whose record asks for English."""
SUBJECT = {"fr": "Rappel : {title} (au plus tard le {date})", "en": "Reminder: {title} (by {date})"}
WITHDRAWN_SUBJECT = {"fr": "Rappel retiré : {title}", "en": "Reminder withdrawn: {title}"}
WITHDRAWN_TEXT = {
    "fr": "Bonjour,\n\n{agency} a retiré le rappel « {title} » de votre calendrier : "
    "il n'y a plus rien à faire d'ici le {date}.\n",
    "en": 'Hello,\n\n{agency} has removed the reminder "{title}" from your calendar: '
    "there is nothing left to do by {date}.\n",
}

_TEXT = """\
{% if fr %}Bonjour,

{{ agency }} vous rappelle : {{ title }}, au plus tard le {{ date }}.
{% if action_url %}
Pour le faire en ligne : {{ action_url }}
{% endif %}{% if snooze_url %}
Me le rappeler plus tard : {{ snooze_url }}
{% endif %}{% if optout_url %}
Ne plus recevoir ces rappels par courriel : {{ optout_url }}
{% endif %}{% else %}Hello,

{{ agency }} reminds you: {{ title }}, by {{ date }}.
{% if action_url %}
Do it online: {{ action_url }}
{% endif %}{% if snooze_url %}
Remind me later: {{ snooze_url }}
{% endif %}{% if optout_url %}
Stop these email reminders: {{ optout_url }}
{% endif %}{% endif %}"""

_HTML = """\
<!doctype html>
<html lang="{{ locale }}"><head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: sans-serif; line-height: 1.5; max-width: 36em">
<p>{% if fr %}Bonjour,{% else %}Hello,{% endif %}</p>
<p>{{ agency }} {% if fr %}vous rappelle :{% else %}reminds you:{% endif %}
<strong>{{ title }}</strong>, {% if fr %}au plus tard le{% else %}by{% endif %}
<strong>{{ date }}</strong>.</p>
{% if action_url %}<p><a href="{{ action_url }}">
{% if fr %}Le faire en ligne{% else %}Do it online{% endif %}</a></p>{% endif %}
{% if snooze_url %}<p><a href="{{ snooze_url }}">
{% if fr %}Me le rappeler plus tard{% else %}Remind me later{% endif %}</a></p>{% endif %}
{% if optout_url %}<p style="font-size: small"><a href="{{ optout_url }}">
{% if fr %}Ne plus recevoir ces rappels par courriel{% else %}Stop these email reminders{% endif %}
</a></p>{% endif %}
</body></html>
"""


@value_type
class ReminderContent:
    """What a reminder says, independent of the channel."""

    reminder_id: str
    agency_name: str
    title: str
    due: datetime
    all_day: bool
    timezone: str
    locale: str
    action_url: str | None = None
    snooze_url: str | None = None
    optout_url: str | None = None
    english: ReminderContent | None = None
    """The same reminder in English, added after the French (this content)
    for a citizen whose record asks for English."""


@value_type
class RenderedEmail:
    subject: str
    text: str
    html: str


def format_due(due: datetime, *, all_day: bool, timezone: str, locale: str) -> str:
    """The due date as people in ``locale`` write it, in the citizen's zone."""
    local = due.astimezone(zone(timezone))
    lang = "fr" if locale == "fr" else "en"
    weekday = WEEKDAYS[lang][local.weekday()]
    month = MONTHS[lang][local.month - 1]
    if lang == "fr":
        day = "1er" if local.day == 1 else str(local.day)
        text = f"{weekday} {day} {month} {local.year}"
        return text if all_day else f"{text} à {local.hour} h {local.minute:02d}"
    text = f"{weekday}, {month} {local.day}, {local.year}"
    if all_day:
        return text
    hour = local.hour % 12 or 12
    return f"{text} at {hour}:{local.minute:02d} {'AM' if local.hour < 12 else 'PM'}"


class Renderer:
    """Renders SMS and email bodies; build once per process and reuse."""

    def __init__(self) -> None:
        env = Environment(
            loader=DictLoader({"email.txt": _TEXT, "email.html": _HTML}),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
            auto_reload=False,
        )
        self._text = _Skeletons(env.get_template("email.txt"), escaped=False)
        self._html = _Skeletons(env.get_template("email.html"), escaped=True)

    def sms(self, content: ReminderContent) -> str:
        if content.english is not None:
            return self._bilingual_sms(content, content.english)
        lang = "fr" if content.locale == "fr" else "en"
        date = format_due(
            content.due, all_day=content.all_day, timezone=content.timezone, locale=lang
        )
        link = f" {content.action_url}" if content.action_url else ""

        def make(title: str) -> str:
            return SMS[lang].format(agency=content.agency_name, title=title, date=date, link=link)

        return fit(make, content.title)

    def _bilingual_sms(self, fr: ReminderContent, en: ReminderContent) -> str:
        dates = {
            lang: format_due(fr.due, all_day=fr.all_day, timezone=fr.timezone, locale=lang)
            for lang in ("fr", "en")
        }
        link = f" {fr.action_url}" if fr.action_url else ""

        def make(title_fr: str, title_en: str) -> str:
            return BILINGUAL_SMS.format(
                agency=fr.agency_name,
                title_fr=title_fr,
                title_en=title_en,
                date_fr=dates["fr"],
                date_en=dates["en"],
                link=link,
            )

        return fit(make, fr.title, en.title)

    def email(self, content: ReminderContent) -> RenderedEmail:
        if content.english is not None:
            return _both(self._email(content), self._email(content.english))
        return self._email(content)

    def _email(self, content: ReminderContent) -> RenderedEmail:
        lang = "fr" if content.locale == "fr" else "en"
        date = format_due(
            content.due, all_day=content.all_day, timezone=content.timezone, locale=lang
        )
        subject = SUBJECT[lang].format(title=content.title, date=date)
        values = {
            "locale": lang,
            "agency": content.agency_name,
            "title": content.title,
            "date": date,
            "subject": subject,
            "action_url": content.action_url,
            "snooze_url": content.snooze_url,
            "optout_url": content.optout_url,
        }
        text = self._text.render(values)
        html = self._html.render(values)
        return RenderedEmail(subject=subject, text=text, html=html)

    def withdrawn(self, content: ReminderContent) -> RenderedEmail:
        """The email that carries an invite's cancellation."""
        if content.english is not None:
            return _both(self._withdrawn(content), self._withdrawn(content.english))
        return self._withdrawn(content)

    def _withdrawn(self, content: ReminderContent) -> RenderedEmail:
        lang = "fr" if content.locale == "fr" else "en"
        date = format_due(
            content.due, all_day=content.all_day, timezone=content.timezone, locale=lang
        )
        subject = WITHDRAWN_SUBJECT[lang].format(title=content.title)
        text = WITHDRAWN_TEXT[lang].format(
            agency=content.agency_name, title=content.title, date=date
        )
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in text.strip().split("\n\n"))
        head = f'<head><meta charset="utf-8"><title>{escape(subject)}</title></head>'
        html = f'<!doctype html><html lang="{lang}">{head}<body>{paragraphs}</body></html>'
        return RenderedEmail(subject=subject, text=text, html=html)


_MARK = re.compile("\x1e([a-z_]+)\x1f")
_SWITCHES = ("action_url", "snooze_url", "optout_url")
"""The values the email templates test (``{% if ... %}``) besides the language."""


def _escape(value: str) -> str:
    """``markupsafe.escape`` as a plain string (what Jinja's autoescape
    prints), without building a ``Markup`` for each value: half the cost."""
    return (
        value.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("'", "&#39;")
        .replace('"', "&#34;")
    )


class _Skeletons:
    """An email template rendered by Jinja once for each set of branches it
    can take (the language, and which of the links there are), with a mark
    in place of each value; a render fills the marks in.

    The same text as Jinja's render of the values (the test compares the
    two over every branch, with values that need escaping), at a fraction
    of its cost: a worker renders two templates for every email it sends.
    That holds because the templates only test ``fr`` and the links'
    presence, and print every value as it is (escaped, in HTML)."""

    def __init__(self, template: Template, *, escaped: bool) -> None:
        self._template = template
        self._escaped = escaped
        self._parts: dict[tuple[bool, ...], tuple[list[str], list[str]]] = {}

    def render(self, values: Mapping[str, str | None]) -> str:
        lang = values["locale"]
        branch = (lang == "fr", *(bool(values[name]) for name in _SWITCHES))
        found = self._parts.get(branch)
        if found is None:
            found = self._parts[branch] = self._skeleton(branch, values)
        texts, names = found
        out = [texts[0]]
        if self._escaped:
            for name, text in zip(names, texts[1:], strict=True):
                out += (_escape(values[name] or ""), text)
        else:
            for name, text in zip(names, texts[1:], strict=True):
                out += (values[name] or "", text)
        return "".join(out)

    def _skeleton(
        self, branch: tuple[bool, ...], values: Mapping[str, str | None]
    ) -> tuple[list[str], list[str]]:
        """The template's text for ``branch`` split at its marks: the texts
        between them and the names of the values that go there."""
        marked: dict[str, object] = {
            name: f"\x1e{name}\x1f" if value or name not in _SWITCHES else value
            for name, value in values.items()
        }
        marked["fr"] = branch[0]
        pieces = _MARK.split(self._template.render(marked))
        return pieces[0::2], pieces[1::2]


def _both(fr: RenderedEmail, en: RenderedEmail) -> RenderedEmail:
    """One email saying it in French, then in English."""
    body = re.compile(r"<body[^>]*>(.*)</body>", re.S)
    found_fr, found_en = body.search(fr.html), body.search(en.html)
    inner_fr = found_fr.group(1) if found_fr else ""
    inner_en = found_en.group(1) if found_en else ""
    subject = f"{fr.subject} / {en.subject}"
    html = (
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8">'
        f"<title>{escape(subject)}</title></head>\n"
        '<body style="font-family: sans-serif; line-height: 1.5; max-width: 36em">\n'
        f'<div lang="fr">{inner_fr}</div>\n<hr>\n<div lang="en">{inner_en}</div>\n'
        "</body></html>\n"
    )
    text = f"{fr.text.rstrip()}\n\n---\n\n{en.text}"
    return RenderedEmail(subject=subject, text=text, html=html)
