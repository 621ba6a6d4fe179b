"""What a citizen's SMS reply asks for, and what we answer.

Replies are read case-, space- and accent-insensitively, in French and
English: ``arrêt``, ``ARRET`` and `` Arret `` are the same word. Anything we
do not understand gets the help text, so a citizen is never left without an
answer. Pure: no I/O here.

Canadian carrier rules (CWTA; Twilio's mandatory keyword responses in
Canada): a keyword is answered in its own language whatever the citizen's
(STOP, START, HELP in English; ARRET, REPRISE, AIDE in French); INFO and
anything else in the citizen's language, French when unknown. The help
answer names the service and a contact, in at most 160 GSM-7 characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from .snoozing import MAX_SNOOZE_DAYS

__all__ = ["MAX_SNOOZE_DAYS", "Command", "Intent", "Lang", "answer", "normalize", "parse"]

Intent = Literal["stop", "start", "help", "snooze", "unknown"]
Lang = Literal["fr", "en"]

DEFAULT_SNOOZE_DAYS = 1

_WORDS: dict[str, tuple[Intent, Lang | None]] = {
    "STOP": ("stop", "en"),
    "ARRET": ("stop", "fr"),
    "ARRETER": ("stop", "fr"),
    "UNSUBSCRIBE": ("stop", "en"),
    "END": ("stop", "en"),
    "QUIT": ("stop", "en"),
    "CANCEL": ("stop", "en"),
    "STOPALL": ("stop", "en"),
    "START": ("start", "en"),
    "REPRISE": ("start", "fr"),
    "UNSTOP": ("start", "en"),
    "YES": ("start", "en"),
    "HELP": ("help", "en"),
    "AIDE": ("help", "fr"),
    "INFO": ("help", None),
    "SNOOZE": ("snooze", "en"),
    "RAPPEL": ("snooze", "fr"),
    "RAPPELER": ("snooze", "fr"),
    "PLUS TARD": ("snooze", "fr"),
    "LATER": ("snooze", "en"),
}
_SNOOZE = re.compile(
    r"^(SNOOZE|RAPPEL|RAPPELER|PLUS TARD|LATER)(?: (\d{1,3}))?(?: (?:JOURS?|DAYS?|J|D))?$"
)


@dataclass(frozen=True, slots=True)
class Command:
    """A parsed reply: what the citizen wants, in which language if it shows."""

    intent: Intent
    lang: Lang | None = None
    days: int = 0


def normalize(text: str) -> str:
    """Upper case, accents and punctuation dropped, spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    words = re.sub(r"[^0-9A-Za-z]+", " ", bare)
    return " ".join(words.upper().split())


def parse(text: str) -> Command:
    """The command in an SMS body."""
    words = normalize(text)
    if words in _WORDS:
        intent, lang = _WORDS[words]
        days = DEFAULT_SNOOZE_DAYS if intent == "snooze" else 0
        return Command(intent, lang, days)
    match = _SNOOZE.match(words)
    if match:
        _, lang = _WORDS[match.group(1)]
        days = int(match.group(2)) if match.group(2) else DEFAULT_SNOOZE_DAYS
        return Command("snooze", lang, days)
    return Command("unknown")


ANSWERS: dict[str, dict[Lang, str]] = {
    "stopped": {
        "fr": "{service} : vous ne recevrez plus aucun rappel par texto, de tous les "
        "organismes. Répondez REPRISE pour les rétablir.",
        "en": "{service}: you will no longer get any reminder by text, from any agency. "
        "Reply START to get them again.",
    },
    "started": {
        "fr": "{service} : vos rappels par texto sont rétablis. Répondez ARRET pour ne plus "
        "en recevoir.",
        "en": "{service}: your text reminders are back on. Reply STOP to stop them.",
    },
    "help": {
        "fr": "{service}. Aide : {contact} RAPPEL 2 : rappel dans 2 jours. ARRET : ne plus "
        "recevoir.",
        "en": "{service}. Help: {contact} SNOOZE 2: remind me in 2 days. STOP: no more texts.",
    },
    "snoozed": {
        "fr": "C'est noté : nouveau rappel le {date}.",
        "en": "Done: we will remind you again on {date}.",
    },
    "too_late": {
        "fr": "Impossible de reporter de {days} jour(s) : l'échéance est le {due}. "
        "{room} jour(s) au plus.",
        "en": "Cannot snooze {days} day(s): the deadline is {due}. {room} day(s) at most.",
    },
    "nothing": {
        "fr": "Aucun rappel récent à reporter pour ce numéro.",
        "en": "There is no recent reminder to snooze for this number.",
    },
    "bad_days": {
        "fr": "Indiquez un nombre de jours entre 1 et 60, par exemple RAPPEL 2.",
        "en": "Give a number of days from 1 to 60, for example SNOOZE 2.",
    },
}
"""Replies, in GSM-7 characters only (é, è, à, ù and É are in it; ê is
not) so each stays one cheap segment. ``{service}`` is the service's name
and ``{contact}`` where to get help (settings)."""


def answer(name: str, lang: Lang, **values: object) -> str:
    return ANSWERS[name][lang].format(**values)
