"""Signed, expiring links that citizens follow from their messages.

A link carries an action (``snooze`` or ``stop``), a reminder id and an
expiry, signed with HMAC-SHA256 under ``REMINDERS_SIGNING_KEY``. Reminder ids
can be derived from (agency, ref), so an unsigned link would let anyone snooze
or stop someone else's reminders; the signature prevents that, and the expiry
bounds how long a forwarded email keeps working. Nothing personal is in a link.

Token: ``<action>.<reminder id>.<expiry epoch s>.<signature>``, URL-safe as is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from .errors import InvalidRequest
from .keys import split_reminder_id

Action = Literal["snooze", "stop"]
ACTIONS: tuple[Action, ...] = ("snooze", "stop")
PATHS: dict[Action, str] = {"snooze": "/snooze/", "stop": "/stop/"}
STOP_LINK_TTL = timedelta(days=400)
"""Unsubscribe links must keep working long after the email (RFC 8058)."""


class BadLink(InvalidRequest):
    """A link that is malformed, forged or expired."""

    def __init__(self, message: str) -> None:
        super().__init__("link", message)


@dataclass(frozen=True, slots=True)
class LinkClaim:
    """What a verified link allows."""

    action: Action
    reminder_id: str
    expires: datetime


class Links:
    """Makes and checks the links in messages."""

    def __init__(self, public_url: str, signing_key: str) -> None:
        if len(signing_key) < 16:
            raise ValueError("the signing key must be at least 16 characters")
        self.public_url = public_url.rstrip("/")
        self._key = signing_key.encode()

    def token(self, action: Action, reminder_id: str, expires: datetime) -> str:
        body = f"{action}.{reminder_id}.{int(expires.timestamp())}"
        return f"{body}.{self._sign(body)}"

    def url(self, action: Action, reminder_id: str, expires: datetime) -> str:
        return f"{self.public_url}{PATHS[action]}{self.token(action, reminder_id, expires)}"

    def verify(self, token: str, *, now: datetime, action: Action | None = None) -> LinkClaim:
        """The claim of a genuine, unexpired token, else :class:`BadLink`."""
        parts = token.split(".")
        if len(parts) != 4:
            raise BadLink("is not a reminder link")
        name, rid, expiry, signature = parts
        if not hmac.compare_digest(signature, self._sign(f"{name}.{rid}.{expiry}")):
            raise BadLink("signature does not match")
        if name not in ACTIONS or (action is not None and name != action):
            raise BadLink("is not a link for this action")
        if split_reminder_id(rid) is None or not expiry.isdigit():
            raise BadLink("is not a reminder link")
        expires = datetime.fromtimestamp(int(expiry), tz=now.tzinfo)
        if expires <= now:
            raise BadLink("has expired")
        return LinkClaim(name, rid, expires)

    def _sign(self, body: str) -> str:
        digest = hmac.new(self._key, body.encode(), hashlib.sha256).digest()[:18]
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")
