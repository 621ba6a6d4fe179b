"""Signed, expiring links that citizens follow from their messages.

A link carries an action (``snooze`` or ``stop``), a reminder id and an
expiry, signed with itsdangerous (HMAC-SHA256 under a key derived from
``REMINDERS_SIGNING_KEY``). Reminder ids
can be derived from (agency, ref), so an unsigned link would let anyone snooze
or stop someone else's reminders; the signature prevents that, and the expiry
bounds how long a forwarded email keeps working. Nothing personal is in a link.

Token: ``<action>.<reminder id>.<expiry epoch s>.<signature>``, URL-safe as is.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Literal

from itsdangerous import BadSignature, Signer

from .errors import InvalidRequest

if TYPE_CHECKING:
    from _hashlib import HASH
from .ids import split_reminder_id

Action = Literal["snooze", "stop"]
ACTIONS: tuple[Action, ...] = ("snooze", "stop")
PATHS: dict[Action, str] = {"snooze": "/snooze/", "stop": "/stop/"}
STOP_LINK_TTL = timedelta(days=400)
"""Unsubscribe links must keep working long after the email (RFC 8058)."""


class BadLink(InvalidRequest):
    """A link that is malformed, forged or expired."""

    def __init__(self, message: str) -> None:
        super().__init__("link", message)


class ExpiredLink(BadLink):
    """A genuine link past its expiry: which reminder it was for is known."""

    def __init__(self, reminder_id: str) -> None:
        super().__init__("has expired")
        self.reminder_id = reminder_id


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a verified link allows."""

    action: Action
    reminder_id: str
    expires: datetime


def _keyed_sha256(key: bytes) -> tuple[HASH, HASH]:
    """SHA-256 states with HMAC's inner and outer padded keys fed in (RFC
    2104): copying them and feeding a message gives its HMAC."""
    block = 64
    if len(key) > block:
        key = hashlib.sha256(key).digest()
    padded = key.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
    return inner, outer


class Links:
    """Makes and checks the links in messages."""

    def __init__(self, public_url: str, signing_key: str) -> None:
        if len(signing_key) < 16:
            raise ValueError("the signing key must be at least 16 characters")
        self.public_url = public_url.rstrip("/")
        self._signer = Signer(
            signing_key, salt="reminders.links", sep=".", digest_method=hashlib.sha256
        )
        self._inner, self._outer = _keyed_sha256(self._signer.derive_key())

    def token(self, action: Action, reminder_id: str, expires: datetime) -> str:
        body = f"{action}.{reminder_id}.{int(expires.timestamp())}"
        # The signer's own signature (HMAC-SHA256 under its derived key,
        # base64url without padding), from the key derived and padded once:
        # every email carries two links, and the signer derives its key again
        # for each. (``hmac.digest`` would also let go of the GIL for each
        # one: with a worker's threads all busy, that is a thread switch.)
        inner = self._inner.copy()
        inner.update(body.encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        mac = outer.digest()
        return f"{body}.{base64.urlsafe_b64encode(mac).rstrip(b'=').decode()}"

    def url(self, action: Action, reminder_id: str, expires: datetime) -> str:
        return f"{self.public_url}{PATHS[action]}{self.token(action, reminder_id, expires)}"

    def verify(self, token: str, *, now: datetime, action: Action | None = None) -> LinkClaim:
        """The claim of a genuine, unexpired token, else :class:`BadLink`."""
        parts = token.split(".")
        if len(parts) != 4:
            raise BadLink("is not a reminder link")
        try:
            self._signer.unsign(token)
        except BadSignature:
            raise BadLink("signature does not match") from None
        name, rid, expiry, _ = parts
        if name not in ACTIONS or (action is not None and name != action):
            raise BadLink("is not a link for this action")
        if split_reminder_id(rid) is None or not expiry.isdigit():
            raise BadLink("is not a reminder link")
        expires = datetime.fromtimestamp(int(expiry), tz=now.tzinfo)
        if expires <= now:
            raise ExpiredLink(rid)
        return LinkClaim(name, rid, expires)
