"""Personal data at rest: encrypted contacts and keyed address hashes.

Contacts are sealed with MultiFernet: the first key encrypts, all keys
decrypt, so keys can be rotated by putting a new one first. Opt-out lists
and fingerprints use an HMAC under a separate key, so an address never
appears in Redis in the clear and cannot be recovered from its hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Contact:
    """A citizen's addresses, in the clear (only in memory)."""

    phone: str | None = None
    email: str | None = None

    def __repr__(self) -> str:  # never print personal data by accident
        return (
            f"Contact(phone={'***' if self.phone else None}, email={'***' if self.email else None})"
        )


class ContactVault:
    """Seals contacts and hashes addresses."""

    def __init__(self, encryption_keys: Sequence[str], hash_key: str) -> None:
        if not encryption_keys:
            raise ConfigurationError(
                "REMINDERS_ENCRYPTION_KEYS is empty; run `reminders keygen` for a key"
            )
        try:
            self._fernet = MultiFernet([Fernet(key.strip()) for key in encryption_keys])
        except (ValueError, TypeError):
            raise ConfigurationError(
                "REMINDERS_ENCRYPTION_KEYS: each key must be a Fernet key"
                " (urlsafe base64 of 32 bytes)"
            ) from None
        if len(hash_key) < 16:
            raise ConfigurationError("REMINDERS_HASH_KEY must be at least 16 characters")
        self._hash_key = hash_key.encode()

    def seal(self, contact: Contact) -> str:
        """Encrypt a contact; an empty contact seals to the empty string."""
        if contact.phone is None and contact.email is None:
            return ""
        plain = json.dumps({"p": contact.phone, "e": contact.email}, separators=(",", ":"))
        return self._fernet.encrypt(plain.encode()).decode()

    def open(self, token: str) -> Contact:
        """Decrypt what :meth:`seal` produced."""
        if not token:
            return Contact()
        try:
            data = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise ConfigurationError(
                "a stored contact cannot be decrypted with REMINDERS_ENCRYPTION_KEYS"
                " (was a key removed before its data was re-encrypted?)"
            ) from None
        return Contact(phone=data.get("p"), email=data.get("e"))

    def seal_text(self, text: str) -> str:
        """Encrypt a secret of ours (an agency's callback signing secret)."""
        return self._fernet.encrypt(text.encode()).decode()

    def open_text(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ConfigurationError(
                "a stored secret cannot be decrypted with REMINDERS_ENCRYPTION_KEYS"
            ) from None

    def address_hash(self, channel: str, address: str) -> str:
        """A keyed hash of an address, for opt-out lists and look-ups."""
        mac = hmac.new(self._hash_key, f"{channel}:{address}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:16]).decode().rstrip("=")

    def fingerprint(self, payload: bytes) -> str:
        """A keyed digest of a registration payload (it holds contacts)."""
        mac = hmac.new(self._hash_key, b"fp:" + payload, hashlib.sha256)
        return base64.urlsafe_b64encode(mac.digest()[:12]).decode()
