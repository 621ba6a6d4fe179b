"""Things done once: a webhook event id acted on, a single-use link used."""

from __future__ import annotations

import secrets

import redis

from ..retrying import patiently
from .keys import Keys


class Claims:
    """Short-lived claims in Redis, each taken at most once while it lives."""

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.client = client
        self.keys = keys

    def claim_once(self, name: str, ttl_s: int, *, patience_s: float = 5.0) -> bool:
        """True the first time ``name`` is claimed within ``ttl_s`` seconds.

        The claim carries a token of its own and is retried, for up to
        ``patience_s``, when the connection drops: a SET that ran but whose
        answer was lost (Redis restarting) is then recognised as ours on the
        retry, instead of the claim looking taken by someone else and the
        first delivery of a webhook being dropped as a repeat."""
        key = self.keys.once(name)
        token = secrets.token_bytes(12)

        def claim() -> bool:
            if self.client.set(key, token, nx=True, ex=max(ttl_s, 1)):
                return True
            return bool(self.client.get(key) == token)

        return patiently(claim, give_up_s=patience_s, first_wait_s=0.05, longest_wait_s=1.0)

    def was_claimed(self, name: str) -> bool:
        return bool(self.client.exists(self.keys.once(name)))

    def release(self, name: str) -> None:
        """Forget a claim whose work failed, so a retry can do it."""
        self.client.delete(self.keys.once(name))
