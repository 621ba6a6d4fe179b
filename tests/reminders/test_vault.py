"""Sealed contacts: short, rotatable, and older Fernet seals still open."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet

from reminders.errors import ConfigurationError
from reminders.vault import Contact, ContactVault

HASH_KEY = "a-hash-key-of-sixteen-or-more"


def vault(*keys: str) -> ContactVault:
    return ContactVault(list(keys), HASH_KEY)


@pytest.mark.parametrize(
    "contact",
    [
        Contact(phone="+15145550123", email="citoyenne@example.ca"),
        Contact(phone="+15145550123"),
        Contact(email="é.accent@exemple.québec"),
    ],
)
def test_a_contact_seals_short_and_opens_whole(contact: Contact) -> None:
    sealer = vault(Fernet.generate_key().decode())
    token = sealer.seal(contact)
    assert token.startswith("1") and len(token) <= 100
    assert "+1514" not in token and "example" not in token
    assert sealer.open(token) == contact
    assert sealer.seal(contact) != token  # a fresh nonce each time


def test_a_full_contact_seals_60_characters_shorter_than_a_fernet_token() -> None:
    key = Fernet.generate_key().decode()
    contact = Contact(phone="+15145550123", email="citoyen0@example.ca")
    plain = json.dumps({"p": contact.phone, "e": contact.email}, separators=(",", ":"))
    fernet_token = Fernet(key).encrypt(plain.encode()).decode()
    assert len(fernet_token) - len(vault(key).seal(contact)) >= 60


def test_an_empty_contact_seals_to_nothing() -> None:
    sealer = vault(Fernet.generate_key().decode())
    assert sealer.seal(Contact()) == ""
    assert sealer.open("") == Contact()


def test_keys_rotate_the_first_seals_all_open() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    contact = Contact(phone="+15145550123", email="a@example.ca")
    sealed_before = vault(old).seal(contact)
    rotated = vault(new, old)
    assert rotated.open(sealed_before) == contact
    sealed_after = rotated.seal(contact)
    assert vault(new).open(sealed_after) == contact
    with pytest.raises(ConfigurationError, match="REMINDERS_ENCRYPTION_KEYS") as caught:
        vault(old).open(sealed_after)
    assert "+1514" not in str(caught.value)


def test_a_contact_sealed_by_fernet_still_opens() -> None:
    key = Fernet.generate_key().decode()
    legacy = Fernet(key).encrypt(b'{"p":"+15145550123","e":null}').decode()
    assert vault(key).open(legacy) == Contact(phone="+15145550123")


@pytest.mark.parametrize("damage", ["flip", "truncate", "garbage"])
def test_a_damaged_seal_is_refused_with_a_clear_error(damage: str) -> None:
    sealer = vault(Fernet.generate_key().decode())
    token = sealer.seal(Contact(phone="+15145550123"))
    broken = {
        "flip": token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:],
        "truncate": token[:12],
        "garbage": "1$$$not base64$$$",
    }[damage]
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        sealer.open(broken)
