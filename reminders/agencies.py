"""Agencies: the tenants of the shared service, registered, never guessed.

An agency is registered by the operator (``reminders agencies add``) with
its names in French and English; a deadline for an agency that is not
registered is refused. The registry also keeps what the HTTP API needs per
agency: rate-limit and quota overrides, and the status callback (its URL and
its signing secret, sealed like contacts).

Reminder policy (offsets, channels, quiet hours, retention, sender name,
reply-to) stays in the policy file: it is configuration an operator reviews
and versions, while agencies come and go at run time.
"""

from __future__ import annotations

import base64
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import redis

from .clock import Clock, from_epoch, to_epoch
from .errors import InvalidRequest, NotFound
from .models import AGENCY_PATTERN, has_control_chars
from .redis.keys import Keys
from .redis.streams import ensure_group
from .vault import ContactVault

_SLUG = re.compile(AGENCY_PATTERN)
MAX_NAME = 120
CALLBACK_GROUP = "callbacks"
"""The audit stream's consumer group that relays status callbacks."""
POSITIVE_CACHE_S = 30.0
"""How long a process trusts that an agency it has seen is registered."""


class AgencyNotRegistered(InvalidRequest):
    """A deadline, key or account names an agency that is not registered."""

    def __init__(self, agency: str) -> None:
        super().__init__("agency", f"{agency!r} is not a registered agency")
        self.agency = agency


class AgencyNotFound(NotFound):
    """No agency has that slug."""

    def __init__(self, agency: str) -> None:
        super().__init__(f"no agency {agency!r}")
        self.agency = agency


class AgencyExists(InvalidRequest):
    """``agencies add`` for a slug already registered."""

    def __init__(self, agency: str) -> None:
        super().__init__("agency", f"{agency!r} is already registered")


@dataclass(frozen=True, slots=True)
class Agency:
    """A registered agency (no secret in it)."""

    slug: str
    name_fr: str
    name_en: str
    created_at: datetime
    rate_per_s: float | None = None
    """Requests per second its API keys may make (None: the setting's)."""
    daily_quota: int | None = None
    """Deadline operations per day (None: the setting's)."""
    callback_url: str | None = None

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" else self.name_fr


@dataclass(frozen=True, slots=True)
class Callback:
    """Where and how an agency's status callbacks go."""

    url: str
    secret: str
    """``whsec_<base64>``: the Standard Webhooks signing secret."""


def check_slug(slug: str) -> str:
    if not isinstance(slug, str) or not _SLUG.match(slug):
        raise InvalidRequest("agency", "must be 1-32 characters among a-z, 0-9 and -")
    return slug


def check_name(field: str, name: str) -> str:
    name = name.strip()
    if not name or len(name) > MAX_NAME or has_control_chars(name):
        raise InvalidRequest(field, f"must be 1-{MAX_NAME} printable characters")
    return name


def check_callback_url(url: str, *, allow_http_loopback: bool) -> str:
    """An https URL (or, when allowed, http on a loopback host, for tests)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidRequest("url", "is not a URL") from None
    if has_control_chars(url) or len(url) > 2048 or not parts.hostname:
        raise InvalidRequest("url", "is not a URL")
    if parts.username or parts.password:
        raise InvalidRequest("url", "must not carry a user name or password")
    loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
    if parts.scheme == "https" or (parts.scheme == "http" and loopback and allow_http_loopback):
        return url
    raise InvalidRequest("url", "must be an https URL")


class AgencyRegistry:
    """The registered agencies, in Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, vault: ContactVault, clock: Clock):
        self.client = client
        self.keys = keys
        self.vault = vault
        self.clock = clock
        self._seen: dict[str, float] = {}
        self._names: dict[str, tuple[float, dict[str, str]]] = {}
        self._recent: dict[str, tuple[float, Agency]] = {}
        self._lock = threading.Lock()

    def add(self, slug: str, *, name_fr: str, name_en: str) -> Agency:
        check_slug(slug)
        created = to_epoch(self.clock.now())
        fields: dict[Any, Any] = {
            "fr": check_name("name_fr", name_fr),
            "en": check_name("name_en", name_en),
            "created": created,
        }
        key = self.keys.agency(slug)
        if not self.client.hsetnx(key, "created", created):
            raise AgencyExists(slug)
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(key, mapping=fields)
        pipe.sadd(self.keys.agencies, slug)
        pipe.execute()
        return self.get(slug)

    def ensure(self, slug: str, *, name_fr: str, name_en: str) -> Agency:
        """Register ``slug`` unless it is registered already (its names then
        stay as they are): for set-up scripts that run more than once."""
        try:
            return self.add(slug, name_fr=name_fr, name_en=name_en)
        except AgencyExists:
            return self.get(slug)

    def get(self, slug: str) -> Agency:
        raw = self._fields(slug)
        if raw is None:
            raise AgencyNotFound(slug)
        return _agency(slug, raw)

    def recent(self, slug: str, *, max_age_s: float = 5.0) -> Agency:
        """:meth:`get`, answered from memory when read less than ``max_age_s``
        ago: the API asks on every request, and a changed limit may take
        that long to apply."""
        now = time.monotonic()
        with self._lock:
            cached = self._recent.get(slug)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = self.get(slug)
        with self._lock:
            self._recent[slug] = (now + max_age_s, found)
        return found

    def display_names(self, slug: str) -> dict[str, str]:
        """``{"fr": ..., "en": ...}`` of a registered agency ({} otherwise),
        cached for a few seconds: workers ask on every send."""
        now = time.monotonic()
        with self._lock:
            cached = self._names.get(slug)
        if cached is not None and cached[0] > now:
            return cached[1]
        raw = self._fields(slug)
        names = {} if raw is None else {"fr": raw.get("fr", slug), "en": raw.get("en", slug)}
        with self._lock:
            self._names[slug] = (now + POSITIVE_CACHE_S, names)
        return names

    def list(self) -> list[Agency]:
        slugs = sorted(_text(s) for s in self.client.smembers(self.keys.agencies))
        return [self.get(slug) for slug in slugs]

    def require(self, slug: str) -> None:
        """AgencyNotRegistered unless ``slug`` is registered (a positive answer
        is trusted for a few seconds, so registering in bulk costs nothing)."""
        now = time.monotonic()
        with self._lock:
            if self._seen.get(slug, 0.0) > now:
                return
        if not isinstance(slug, str) or not _SLUG.match(slug):
            raise AgencyNotRegistered(str(slug)[:40])
        if not self.client.exists(self.keys.agency(slug)):
            raise AgencyNotRegistered(slug)
        with self._lock:
            self._seen[slug] = now + POSITIVE_CACHE_S

    def set_limits(
        self, slug: str, *, rate_per_s: float | None = None, daily_quota: int | None = None
    ) -> Agency:
        """Override the API rate limit or daily quota of one agency (0 or a
        negative value goes back to the settings' default)."""
        self.get(slug)
        with self._lock:
            self._recent.pop(slug, None)  # this process sees it at once
        key = self.keys.agency(slug)
        for field, value in (("rate", rate_per_s), ("quota", daily_quota)):
            if value is None:
                continue
            if value > 0:
                self.client.hset(key, field, value)
            else:
                self.client.hdel(key, field)
        return self.get(slug)

    def set_callback(self, slug: str, url: str, *, allow_http_loopback: bool = False) -> str:
        """Send ``slug``'s status callbacks to ``url``; returns the new signing
        secret (``whsec_...``), shown this once."""
        check_callback_url(url, allow_http_loopback=allow_http_loopback)
        self.get(slug)
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
        sealed = self.vault.seal_text(secret)
        seconds, micros = self.client.time()
        since_ms = seconds * 1000 + micros // 1000
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys.agency(slug), mapping={"cb_url": url, "cb_secret": sealed})
        pipe.zadd(self.keys.agencies_with_callback, {slug: since_ms}, nx=True)
        pipe.execute()
        # The relay reads the audit streams from here on, even before any
        # scheduler has started: no event after this call is missed.
        ensure_group(self.client, self.keys.audits, CALLBACK_GROUP)
        return secret

    def with_callback(self) -> dict[str, int]:
        """The agencies that have a status callback, each with when it was
        first set (Redis time, ms): one read."""
        found = self.client.zrange(self.keys.agencies_with_callback, 0, -1, withscores=True)
        pairs: list[tuple[bytes | str, float]] = found  # type: ignore[assignment]
        return {_text(slug): int(since) for slug, since in pairs}

    def callback(self, slug: str) -> Callback | None:
        raw = self._fields(slug)
        if raw is None or not raw.get("cb_url") or not raw.get("cb_secret"):
            return None
        return Callback(raw["cb_url"], self.vault.open_text(raw["cb_secret"]))

    def _fields(self, slug: str) -> dict[str, str] | None:
        raw: Any = self.client.hgetall(self.keys.agency(slug))
        if not raw:
            return None
        return {_text(k): _text(v) for k, v in raw.items()}


def _agency(slug: str, raw: dict[str, str]) -> Agency:
    return Agency(
        slug=slug,
        name_fr=raw.get("fr", slug),
        name_en=raw.get("en", slug),
        created_at=from_epoch(int(raw.get("created", 0))),
        rate_per_s=float(raw["rate"]) if raw.get("rate") else None,
        daily_quota=int(raw["quota"]) if raw.get("quota") else None,
        callback_url=raw.get("cb_url") or None,
    )


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
