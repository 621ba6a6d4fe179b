"""What agencies send: a citizen's deadline, checked at the boundary.

Every refusal is a pydantic ``ValidationError`` whose location names the
field. Personal data (phone, email) never appears in those messages: the
validators below raise with the rule that was broken, not the value.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

ChannelName = Literal["sms", "email", "calendar"]
Locale = Literal["fr", "en"]
CHANNELS: tuple[ChannelName, ...] = ("sms", "email", "calendar")
LOCALES: tuple[Locale, ...] = ("fr", "en")

AGENCY_PATTERN = r"^[a-z0-9-]{1,32}$"
# Refs are hashed into keys, so no character can break the key layout; the
# set is still kept to what agencies' identifiers use, without spaces,
# braces or quotes that make ids ambiguous in CSV files and logs.
REF_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:/#+=@-]{0,127}$"
MAX_TITLE_CHARS = 120
MAX_URL_CHARS = 2000
MAX_OFFSETS = 10
MAX_OFFSET = timedelta(days=400)

_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_INVISIBLE = frozenset("\u200b\u200c\u200e\u200f\u061c\u2060\u2061\u2062\u2063\u2064\ufeff")
"""Zero-width spaces and joiners, direction marks, the byte order mark: they
hide or reorder text (a phishing aid) and carry nothing a title needs. The
zero-width joiner (U+200D) stays: emoji sequences are made with it."""
_DURATION = re.compile(r"^\s*(\d+)\s*(w|d|h|m|s)\s*$")
_DURATION_UNITS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def has_control_chars(text: str) -> bool:
    """True when ``text`` holds a control, bidi-override or invisible character."""
    return any(
        unicodedata.category(ch) == "Cc" or ch in _BIDI_CONTROLS or ch in _INVISIBLE for ch in text
    )


def _clean_text(value: object) -> object:
    if isinstance(value, str) and has_control_chars(value):
        raise ValueError("must not contain control characters")
    return value


def parse_duration(value: object) -> object:
    """Accept ``"7d"``, ``"36h"``, ``"90m"``, ``"2w"``, ISO 8601 (``"P7D"``)
    and seconds as a number; other text (``"7days"``, ``"1 week"``, which
    pydantic alone would guess at) is refused."""
    if isinstance(value, str):
        match = _DURATION.match(value.lower())
        if match:
            return timedelta(seconds=int(match.group(1)) * _DURATION_UNITS[match.group(2)])
        if not value.strip().upper().startswith("P"):
            raise ValueError("must be a duration like 7d, 36h, 90m, 2w or ISO 8601 (P7D)")
    return value


CleanStr = Annotated[str, BeforeValidator(_clean_text)]
Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


def zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; ValueError naming the rule if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise ValueError("unknown time zone; use an IANA name such as America/Toronto") from None


class Citizen(BaseModel):
    """Who receives the reminders, and how to reach them."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    phone: CleanStr | None = None
    email: CleanStr | None = None
    locale: Locale = "fr"
    timezone: CleanStr = "America/Toronto"

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        text = value.strip()
        if not re.fullmatch(r"\+[1-9]\d{6,14}", text):
            raise ValueError("must be an E.164 number: + then country code and digits")
        try:
            parsed = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            raise ValueError("must be an E.164 number: + then country code and digits") from None
        if not phonenumbers.is_valid_number(parsed):
            raise ValueError("is not a valid phone number for its country code")
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        try:
            checked = validate_email(value.strip(), check_deliverability=False)
        except EmailNotValidError:
            raise ValueError("is not a valid email address") from None
        return checked.normalized

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value


def _parse_due(value: object) -> object:
    if isinstance(value, bool | int | float):
        # A bare number could be epoch seconds, milliseconds or a date typed
        # wrong: refused rather than guessed.
        raise ValueError("must be an ISO 8601 date or date-time with an offset, not a number")
    if isinstance(value, str):
        text = value.strip()
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                return date.fromisoformat(text)
            return datetime.fromisoformat(text)
        except ValueError:
            raise ValueError("must be an ISO 8601 date or date-time with an offset") from None
    return value


Due = Annotated[datetime | date, BeforeValidator(_parse_due)]
"""An aware date-time, or a date (the end of that day in the citizen's zone)."""


class DeadlineFields(BaseModel):
    """A deadline without its agency and ref: the body of the HTTP API's PUT
    (the path names those two). :class:`Deadline` adds them."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    due: Due
    title: dict[Locale, CleanStr]
    citizen: Citizen
    action_url: CleanStr | None = None
    channels: list[ChannelName] | None = None
    offsets: list[Duration] | None = None

    @field_validator("due")
    @classmethod
    def _aware(cls, value: datetime | date) -> datetime | date:
        if isinstance(value, datetime):
            if value.tzinfo is None or value.utcoffset() is None:
                raise ValueError(
                    "naive datetime; give a time zone (e.g. 2026-12-15T17:00-05:00) or a date"
                )
            if value.year < 2000 or value.year > 2200:
                raise ValueError("is out of range")
        return value

    @field_validator("title", mode="before")
    @classmethod
    def _title_from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return {"fr": value, "en": value}
        return value

    @field_validator("title")
    @classmethod
    def _title(cls, value: dict[Locale, str]) -> dict[Locale, str]:
        if not value:
            raise ValueError("needs at least one of fr, en")
        cleaned: dict[Locale, str] = {}
        for locale, text in value.items():
            text = " ".join(text.split())
            if not text:
                raise ValueError(f"{locale} title is empty")
            if len(text) > MAX_TITLE_CHARS:
                raise ValueError(f"{locale} title is longer than {MAX_TITLE_CHARS} characters")
            cleaned[locale] = text
        return cleaned

    @field_validator("action_url")
    @classmethod
    def _https(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if len(value) > MAX_URL_CHARS:
            raise ValueError(f"is longer than {MAX_URL_CHARS} characters")
        if any(ch.isspace() for ch in value):
            raise ValueError("must not contain spaces")
        try:
            parts = urlsplit(value)
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// URL with a host")
        if "@" in parts.netloc:
            # https://gouv.qc.ca@evil.test/ reads as the government's address.
            raise ValueError("must not carry a user name or password before the host")
        return value

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[ChannelName] | None) -> list[ChannelName] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("must name at least one channel (or be left out)")
        if len(set(value)) != len(value):
            raise ValueError("must not repeat a channel")
        return value

    @field_validator("offsets")
    @classmethod
    def _offsets(cls, value: list[timedelta] | None) -> list[timedelta] | None:
        return None if value is None else check_offsets(value)

    def due_instant(self) -> datetime:
        """The due instant in UTC (end of day in the citizen's zone for dates)."""
        return due_instant(self.due, self.citizen.timezone)

    @property
    def all_day(self) -> bool:
        return not isinstance(self.due, datetime)


class Deadline(DeadlineFields):
    """A citizen's deadline as an agency registers it.

    ``due`` is an aware datetime, or a date meaning the end of that day in
    the citizen's time zone. ``channels`` and ``offsets`` default to the
    agency's policy when left out.
    """

    agency: Annotated[str, Field(pattern=AGENCY_PATTERN)]
    ref: Annotated[str, Field(pattern=REF_PATTERN)]


def check_offsets(value: list[timedelta]) -> list[timedelta]:
    """Offsets must be positive, distinct, at most 400 days and 10 in all."""
    if not value:
        raise ValueError("must hold at least one offset (or be left out)")
    if len(value) > MAX_OFFSETS:
        raise ValueError(f"must hold at most {MAX_OFFSETS} offsets")
    if any(offset <= timedelta(0) for offset in value):
        raise ValueError("must all be positive durations before the deadline")
    if any(offset > MAX_OFFSET for offset in value):
        raise ValueError("must each be at most 400 days")
    if len(set(value)) != len(value):
        raise ValueError("must not repeat an offset")
    return sorted(value, reverse=True)


def due_instant(due: datetime | date, timezone: str) -> datetime:
    """A due date means the last second of that day in the citizen's zone."""
    if isinstance(due, datetime):
        return due.astimezone(UTC)
    local_end = datetime.combine(due, time(23, 59, 59), tzinfo=zone(timezone))
    return local_end.astimezone(UTC)


def explain(error: ValidationError) -> str:
    """A one-line account of a ValidationError naming each field, never its value."""
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in item["loc"]) or "input"
        message = str(item["msg"]).removeprefix("Value error, ")
        parts.append(f"{where}: {message}")
    return "; ".join(parts)
