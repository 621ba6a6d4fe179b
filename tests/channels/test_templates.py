"""Messages per locale: dates as people write them, SMS in two segments."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from channels.base import mask
from channels.sms_text import measure, to_gsm
from channels.templates import ReminderContent, Renderer, format_due

CONTENT = ReminderContent(
    reminder_id="0f8d0f3f9ce77c7dfbbf-2",
    agency_name="SAAQ",
    title="Renouveler votre permis de conduire",
    due=datetime(2026, 12, 15, 22, 0, tzinfo=UTC),
    all_day=False,
    timezone="America/Toronto",
    locale="fr",
    action_url="https://saaq.example.gouv.qc.ca/dossier/123",
    snooze_url="https://rappels.example.gouv.qc.ca/snooze/tok",
    optout_url="https://rappels.example.gouv.qc.ca/optout/tok",
)


@pytest.mark.parametrize(
    ("locale", "all_day", "expected"),
    [
        ("fr", False, "mardi 15 décembre 2026 à 17 h 00"),
        ("fr", True, "mardi 15 décembre 2026"),
        ("en", False, "Tuesday, December 15, 2026 at 5:00 PM"),
        ("en", True, "Tuesday, December 15, 2026"),
    ],
)
def test_due_dates_are_written_the_locales_way_in_the_citizens_zone(
    locale: str, all_day: bool, expected: str
) -> None:
    due = CONTENT.due
    assert format_due(due, all_day=all_day, timezone="America/Toronto", locale=locale) == expected


def test_french_uses_1er_for_the_first_of_the_month() -> None:
    due = datetime(2027, 3, 1, 14, 30, tzinfo=UTC)
    assert format_due(due, all_day=False, timezone="America/Toronto", locale="fr") == (
        "lundi 1er mars 2027 à 9 h 30"
    )


@pytest.mark.parametrize("locale", ["fr", "en"])
def test_sms_names_the_agency_title_date_link_and_how_to_stop(locale: str) -> None:
    text = Renderer().sms(replace(CONTENT, locale=locale))
    assert text.startswith("SAAQ")
    assert "Renouveler votre permis de conduire" in text
    assert "https://saaq.example.gouv.qc.ca/dossier/123" in text
    assert ("ARRET" if locale == "fr" else "STOP") in text
    assert measure(text).segments <= 2


def test_ucs2_letters_are_transliterated_when_that_keeps_the_sms_in_two_segments() -> None:
    title = ("Être prêt : répondre à la demande de documents complémentaires « finale » " * 2)[:120]
    text = Renderer().sms(replace(CONTENT, title=title))
    length = measure(text)
    assert length.encoding == "GSM-7" and length.segments == 2
    assert "Etre pret" in text and "..." not in text, "whole title kept, in GSM-7 letters"


def test_a_title_too_long_even_in_gsm7_is_shortened_not_the_instructions() -> None:
    long_link = "https://saaq.example.gouv.qc.ca/dossier/" + "x" * 90
    title = ("Être prêt : répondre à la demande de documents complémentaires « finale » " * 2)[:120]
    text = Renderer().sms(replace(CONTENT, title=title, action_url=long_link))
    length = measure(text)
    assert length.encoding == "GSM-7" and length.segments == 2
    assert "..." in text and long_link in text
    assert text.endswith("ARRET pour ne plus en recevoir.")


def test_segment_counting_for_gsm7_and_ucs2() -> None:
    assert measure("a" * 160).segments == 1
    assert measure("a" * 161).segments == 2
    assert measure("€" * 80).units == 160, "extension characters take two septets"
    assert measure("ê" + "a" * 69).encoding == "UCS-2"
    assert measure("ê" + "a" * 69).segments == 1
    assert measure("ê" + "a" * 70).segments == 2
    assert measure("ê" + "a" * 134).segments == 3
    assert to_gsm("Arrêt « prêt » œuvre — ç") == 'Arret " pret " oeuvre - c'


def test_an_escape_or_an_emoji_on_a_segment_boundary_starts_the_next_segment() -> None:
    # As Twilio's segment calculator and split-sms count: two septets or two
    # UTF-16 units are never split between segments.
    assert measure("a" * 152 + "€" + "b" * 152).segments == 3
    assert measure("a" * 152 + "b" + "€" + "b" * 150).segments == 2
    assert measure("a" * 66 + "😀" + "b" * 66).segments == 3
    assert measure("a" * 65 + "😀" + "b" * 67).segments == 2


def test_a_tilde_in_the_agency_link_on_the_boundary_still_keeps_the_sms_in_two_segments() -> None:
    for pad in range(0, 60):
        link = "https://saaq.example.gouv.qc.ca/~dossier/" + "x" * pad
        text = Renderer().sms(replace(CONTENT, action_url=link))
        assert measure(text).segments <= 2, (pad, measure(text))
        assert link in text


def test_accents_of_gsm7_are_kept_and_emoji_never_become_question_marks() -> None:
    text = Renderer().sms(replace(CONTENT, title="Échéance 🚗 : à renouveler"))
    assert "Échéance" in text and "?" not in text.split("https://")[0]
    assert to_gsm("Permis 🚗 à renouveler") == "Permis à renouveler"


def test_the_cancellation_email_is_a_whole_html_document() -> None:
    rendered = Renderer().withdrawn(CONTENT)
    parser = _Tags()
    parser.feed(rendered.html or "")
    assert parser.tags[:4] == ["html", "head", "meta", "title"]
    assert parser.lang == "fr" and "body" in parser.tags
    assert rendered.subject in (rendered.html or "")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.lang = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "html":
            self.lang = dict(attrs).get("lang") or ""


def test_email_html_is_escaped_and_text_carries_the_links() -> None:
    hostile = replace(CONTENT, agency_name="<b>x</b>", title="<script>alert(1)</script>")
    email = Renderer().email(hostile)
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "<b>x</b>" not in email.html
    assert "<script>alert(1)</script>" in email.text, "plain text is not HTML-escaped"
    assert email.subject.startswith("Rappel : <script>")
    normal = Renderer().email(CONTENT)
    for url in (CONTENT.action_url, CONTENT.snooze_url, CONTENT.optout_url):
        assert url is not None and url in normal.text and url in normal.html


def test_addresses_are_masked_for_logs() -> None:
    assert mask("+15145550123") == "+1514•••23"
    assert mask("jean.tremblay@example.ca") == "j•••@example.ca"
    assert "5550123" not in mask("+15145550123")


def _jinja_email(content: ReminderContent) -> tuple[str, str]:
    """The email's text and HTML as Jinja renders the templates each time
    (what the renderer's skeletons must equal)."""
    from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape

    from channels.templates import _HTML, _TEXT, SUBJECT

    env = Environment(
        loader=DictLoader({"email.txt": _TEXT, "email.html": _HTML}),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )
    lang = content.locale
    date = format_due(content.due, all_day=content.all_day, timezone=content.timezone, locale=lang)
    values = {
        "fr": lang == "fr",
        "locale": lang,
        "agency": content.agency_name,
        "title": content.title,
        "date": date,
        "subject": SUBJECT[lang].format(title=content.title, date=date),
        "action_url": content.action_url,
        "snooze_url": content.snooze_url,
        "optout_url": content.optout_url,
    }
    return env.get_template("email.txt").render(values), env.get_template("email.html").render(
        values
    )


def _link(present: int, bit: int, name: str) -> str | None:
    """A link that needs escaping when bit ``bit`` of ``present`` is set,
    else absent (None or "", both falsy)."""
    if present & (1 << bit):
        return f'https://x.example/{name}?a=1&b=<2>&c="3"'
    return None if bit % 2 else ""


def test_emails_equal_jinjas_own_render_on_every_branch_and_value() -> None:
    # One renderer for all: a branch rendered earlier (its skeleton kept)
    # must not leak into another, nor one content's values into the next.
    renderer = Renderer()
    names = [("SAAQ", CONTENT.title), ('A & B <Ministère> "l\'agence"', "<i>x</i> & 'y' «z»")]
    seen = 0
    for locale in ("fr", "en"):
        for present in range(8):
            for agency, title in names:
                content = replace(
                    CONTENT,
                    locale=locale,
                    agency_name=agency,
                    title=title,
                    action_url=_link(present, 0, "action"),
                    snooze_url=_link(present, 1, "snooze"),
                    optout_url=_link(present, 2, "optout"),
                )
                email = renderer.email(content)
                assert (email.text, email.html) == _jinja_email(content), (locale, present, agency)
                seen += 1
    assert seen == 32
    # A value that is empty where the templates print it unconditionally.
    bare = replace(CONTENT, title="", agency_name="")
    assert (renderer.email(bare).text, renderer.email(bare).html) == _jinja_email(bare)
