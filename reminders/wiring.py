"""Building a service from settings: the library's composition root."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis

from .clock import Clock, SystemClock
from .errors import ConfigurationError
from .keys import Keys
from .links import Links
from .policy import PolicyBook
from .service import ReminderService
from .store import RedisStore
from .vault import ContactVault

if TYPE_CHECKING:
    from config.settings import Settings


def redis_client(settings: Settings) -> redis.Redis:
    """A Redis client for ``settings.redis_url`` with the timeouts every
    process uses."""
    return redis.Redis.from_url(
        settings.redis_url,
        socket_timeout=10,
        socket_connect_timeout=5,
        health_check_interval=30,
        retry_on_timeout=True,
    )


def signed_links(settings: Settings) -> Links:
    """The signer of the snooze and stop links in messages."""
    if settings.signing_key is None:
        raise ConfigurationError(
            "REMINDERS_SIGNING_KEY is not set; messages carry signed links "
            "(run `reminders keygen` for one)"
        )
    return Links(settings.public_url, settings.signing_key.get_secret_value())


def connect(
    settings: Settings | None = None,
    *,
    redis_url: str | None = None,
    client: redis.Redis | None = None,
    clock: Clock | None = None,
    policies: PolicyBook | None = None,
    **overrides: Any,
) -> ReminderService:
    """A service wired from settings (``REMINDERS_*`` variables and ``.env``).

    Keyword arguments override single settings (``redis_url=...``,
    ``key_prefix=...``); ``client``, ``clock`` and ``policies`` replace the
    collaborators built from settings.
    """
    from config.policies import load_policies
    from config.settings import Settings

    if redis_url is not None:
        overrides["redis_url"] = redis_url
    if settings is None:
        settings = Settings(**overrides)
    elif overrides:
        settings = settings.model_copy(update=overrides)
    if settings.hash_key is None:
        raise ConfigurationError("REMINDERS_HASH_KEY is not set; run `reminders keygen` for one")
    vault = ContactVault(settings.encryption_key_list(), settings.hash_key.get_secret_value())
    if client is None:
        client = redis_client(settings)
    store = RedisStore(client, Keys(settings.key_prefix), audit_maxlen=settings.audit_maxlen)
    return ReminderService(
        store=store,
        vault=vault,
        policies=policies or load_policies(settings.policy_file),
        clock=clock or SystemClock(),
        coverage_target=settings.coverage_target,
    )
