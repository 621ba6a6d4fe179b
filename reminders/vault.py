"""Personal data at rest: encrypted contacts and keyed address hashes.

Contacts are sealed with AES-SIV under a key derived (HKDF-SHA256) from
each Fernet key of ``REMINDERS_ENCRYPTION_KEYS``: the first key seals, all
keys open, so keys are rotated by putting a new one first. AES-SIV adds 24
bytes to the addresses (a random 8-byte nonce and the 16-byte tag) before
base64: 76 characters for a phone and an email, where a Fernet token of
the same contact is 164, a quarter of a stored deadline. It stays safe if a
nonce ever repeats (that would only show that two seals hold the same
contact). Contacts sealed earlier with Fernet still open. Our own secrets
(agencies' callback signing secrets) stay Fernet tokens.

Opt-out lists and fingerprints use an HMAC under a separate key, so an
address never appears in Redis in the clear and cannot be recovered from
its hash.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import ConfigurationError
from .values import value_type

SIV_PREFIX = "1"
"""First character of an AES-SIV sealed contact (Fernet tokens start "g")."""
_NONCE_BYTES = 8
_CONTACT_INFO = b"deadline-reminders contact seal v1"


def _contact_cipher(fernet_key: str) -> AESSIV:
    secret = base64.urlsafe_b64decode(fernet_key)
    derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_CONTACT_INFO).derive(
        secret
    )
    return AESSIV(derived)


@value_type
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
            keys = [key.strip() for key in encryption_keys]
            self._fernet = MultiFernet([Fernet(key) for key in keys])
            self._ciphers = [_contact_cipher(key) for key in keys]
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
        # A phone (E.164) and an email address never hold a line break.
        plain = f"{contact.phone or ''}\n{contact.email or ''}".encode()
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._ciphers[0].encrypt(plain, [nonce])
        return SIV_PREFIX + base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def open(self, token: str) -> Contact:
        """Decrypt what :meth:`seal` produced."""
        if not token:
            return Contact()
        if token.startswith(SIV_PREFIX):
            plain = self._open_siv(token[len(SIV_PREFIX) :])
            phone, _, email = plain.decode().partition("\n")
            return Contact(phone=phone or None, email=email or None)
        try:
            data = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise _undecryptable() from None
        return Contact(phone=data.get("p"), email=data.get("e"))

    def _open_siv(self, body: str) -> bytes:
        try:
            sealed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except ValueError:
            raise _undecryptable() from None
        nonce, data = sealed[:_NONCE_BYTES], sealed[_NONCE_BYTES:]
        for cipher in self._ciphers:
            try:
                return cipher.decrypt(data, [nonce])
            except (InvalidTag, ValueError):
                continue
        raise _undecryptable()

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


def _undecryptable() -> ConfigurationError:
    return ConfigurationError(
        "a stored contact cannot be decrypted with REMINDERS_ENCRYPTION_KEYS"
        " (was a key removed before its data was re-encrypted?)"
    )
