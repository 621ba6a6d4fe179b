"""Credentials: agencies' API keys and staff sign-in tokens.

Both kinds work alike. A credential reads ``<kind>_<id>_<secret>`` (``rk_``
for an API key, ``st_`` for a staff token). Only a keyed hash of the whole
credential is stored (HMAC-SHA256 under ``REMINDERS_HASH_KEY``), beside its
scope (the agency it acts for, or ``all`` for staff who see every agency), a
label, when it was made, when it was last used and when it was revoked. The
id names it in lists and in ``revoke``; the credential itself is printed
once, when it is made. A revoked one is refused from the next request on:
nothing is cached.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis

from .clock import Clock, from_epoch, to_epoch
from .errors import InvalidRequest, NotFound, Unauthenticated

__all__ = ["ALL", "Credential", "CredentialNotFound", "Credentials", "Unauthenticated"]
from .models import has_control_chars
from .redis.keys import Keys

ID_FORMAT = re.compile(r"^[0-9a-f]{12}$")
KINDS = {"api": "rk", "staff": "st"}
ALL = "all"
"""The scope of staff who see every agency."""
LAST_USED_EVERY_S = 60
"""``last used`` is written at most this often per key (not on every request)."""


class CredentialNotFound(NotFound):
    def __init__(self, kind: str, key_id: str) -> None:
        super().__init__(f"no {'API key' if kind == 'api' else 'staff token'} {key_id!r}")


@dataclass(frozen=True, slots=True)
class Credential:
    """What is known of a credential (never the credential itself)."""

    key_id: str
    scope: str
    """The agency it acts for, or ``all``."""
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class Credentials:
    """Makes, lists, checks and revokes the credentials of one kind."""

    def __init__(
        self, client: redis.Redis, keys: Keys, hash_key: str, clock: Clock, *, kind: str
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {sorted(KINDS)}")
        self.client = client
        self.keys = keys
        self.kind = kind
        self._hash_key = hash_key.encode()
        self._format = re.compile(rf"^{KINDS[kind]}_([0-9a-f]{{12}})_([A-Za-z0-9_-]{{43}})$")
        self.clock = clock

    def create(self, scope: str, label: str = "") -> tuple[Credential, str]:
        """A new credential for ``scope`` (checked by the caller): what is
        stored, and the credential itself, which is not kept anywhere."""
        label = label.strip()
        if len(label) > 80 or has_control_chars(label):
            raise InvalidRequest("label", "must be at most 80 printable characters")
        key_id = secrets.token_hex(6)
        secret = f"{KINDS[self.kind]}_{key_id}_{secrets.token_urlsafe(32)}"
        now = to_epoch(self.clock.now())
        fields: dict[Any, Any] = {
            "scope": scope,
            "label": label,
            "digest": self._digest(secret),
            "created": now,
        }
        pipe = self.client.pipeline(transaction=True)
        pipe.hset(self.keys.credential(self.kind, key_id), mapping=fields)
        pipe.sadd(self.keys.credentials_of(self.kind, scope), key_id)
        pipe.execute()
        return self.get(key_id), secret

    def get(self, key_id: str) -> Credential:
        raw = self._fields(key_id) if ID_FORMAT.match(key_id) else None
        if raw is None:
            raise CredentialNotFound(self.kind, key_id[:20])
        return _credential(key_id, raw)

    def of_scope(self, scope: str) -> list[Credential]:
        members = self.client.smembers(self.keys.credentials_of(self.kind, scope))
        found = [self.get(_text(i)) for i in members]
        return sorted(found, key=lambda k: (k.created_at, k.key_id))

    def revoke(self, key_id: str) -> Credential:
        """Refuse it from the next request on (revoking twice is fine)."""
        self.get(key_id)
        now = to_epoch(self.clock.now())
        self.client.hsetnx(self.keys.credential(self.kind, key_id), "revoked", now)
        return self.get(key_id)

    def id_of(self, presented: str) -> str | None:
        """The id inside a well-formed credential, else None (for throttling
        sign-in per account before checking anything)."""
        match = self._format.match(presented)
        return None if match is None else match.group(1)

    def authenticate(self, presented: str) -> Credential:
        """The credential ``presented`` is, or :class:`Unauthenticated` (the
        message never repeats what was presented)."""
        key_id = self.id_of(presented)
        if key_id is None:
            raise Unauthenticated(f"the {self._noun} is malformed")
        raw = self._fields(key_id)
        if raw is None or not hmac.compare_digest(
            raw.get("digest", "").encode(), self._digest(presented).encode()
        ):
            raise Unauthenticated(f"the {self._noun} is not valid")
        found = _credential(key_id, raw)
        if not found.active:
            raise Unauthenticated(f"the {self._noun} was revoked")
        self.touch(found)
        return found

    def check(self, key_id: str) -> Credential:
        """The credential ``key_id`` when it is still active (a session's
        account), else :class:`Unauthenticated`."""
        raw = self._fields(key_id) if ID_FORMAT.match(key_id) else None
        if raw is None:
            raise Unauthenticated(f"the {self._noun} is not valid")
        found = _credential(key_id, raw)
        if not found.active:
            raise Unauthenticated(f"the {self._noun} was revoked")
        return found

    def touch(self, found: Credential) -> None:
        """Record a use (at most every ``LAST_USED_EVERY_S`` seconds)."""
        now = to_epoch(self.clock.now())
        if found.last_used_at is None or now - to_epoch(found.last_used_at) >= LAST_USED_EVERY_S:
            self.client.hset(self.keys.credential(self.kind, found.key_id), "used", now)

    @property
    def _noun(self) -> str:
        return "API key" if self.kind == "api" else "staff token"

    def _digest(self, presented: str) -> str:
        message = f"{self.kind}:{presented}".encode("utf-8", "surrogatepass")
        return hmac.new(self._hash_key, message, hashlib.sha256).hexdigest()

    def _fields(self, key_id: str) -> dict[str, str] | None:
        raw: Any = self.client.hgetall(self.keys.credential(self.kind, key_id))
        if not raw:
            return None
        return {_text(k): _text(v) for k, v in raw.items()}


def _credential(key_id: str, raw: dict[str, str]) -> Credential:
    return Credential(
        key_id=key_id,
        scope=raw["scope"],
        label=raw.get("label", ""),
        created_at=from_epoch(int(raw["created"])),
        last_used_at=from_epoch(int(raw["used"])) if raw.get("used") else None,
        revoked_at=from_epoch(int(raw["revoked"])) if raw.get("revoked") else None,
    )


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
