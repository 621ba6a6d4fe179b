"""Opt-outs: a citizen stops (or restarts) reminders on a channel.

Lists hold keyed hashes of addresses (:meth:`ContactVault.address_hash`),
never the addresses; each change appends to the audit stream.
"""

from __future__ import annotations

from pydantic import ValidationError

from .clock import Clock, to_epoch
from .errors import InvalidRequest
from .models import ChannelName, Citizen, explain
from .redis.store import AuditEvent, RedisStore
from .vault import ContactVault

OPT_OUT_CHANNELS: tuple[ChannelName, ...] = ("sms", "email")


class OptOuts:
    """Keeps the opt-out lists."""

    def __init__(self, *, store: RedisStore, vault: ContactVault, clock: Clock) -> None:
        self.store = store
        self.vault = vault
        self.clock = clock

    def set(self, channel: str, address: str, *, out: bool) -> bool:
        """Opt ``address`` out of ``channel`` (or back in); True if it changed."""
        digest = self.address_hash(channel, address)
        event = AuditEvent("opted_out" if out else "opted_in", "", f"citizen:{channel}")
        return self.store.set_opt_out(
            channel, digest, out=out, event=event, at=to_epoch(self.clock.now())
        )

    def is_opted_out(self, channel: str, address: str) -> bool:
        return self.store.is_opted_out(channel, self.address_hash(channel, address))

    def address_hash(self, channel: str, address: str) -> str:
        """The keyed hash an address is known by (opt-out lists, reply lookups);
        InvalidRequest when the address is not a valid phone number or email."""
        if channel not in OPT_OUT_CHANNELS:
            raise InvalidRequest("channel", "must be sms or email")
        try:
            if channel == "sms":
                normal = Citizen(phone=address).phone
            else:
                normal = Citizen(email=address).email
        except ValidationError as err:
            raise InvalidRequest("address", explain(err).split(": ", 1)[-1]) from None
        if normal is None:
            raise InvalidRequest("address", "is empty")
        return self.vault.address_hash(channel, normal)
