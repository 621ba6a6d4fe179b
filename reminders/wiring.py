"""Building the domain's parts from settings: one way, for every process.

:func:`build_core` assembles the parts (Redis client, store, vault, policies,
clock, the schedule, the lifecycle's transitions and receipts, the service
facade); the library's :func:`connect`, the worker, the scheduler, the web
app and the demo all start from it, so each part is built the same way
everywhere and nobody pulls parts out of a service.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from redis.exceptions import RedisClusterException

from .agencies import AgencyRegistry
from .clock import Clock, SystemClock
from .credentials import Credentials
from .errors import ConfigurationError
from .lifecycle.receipts import OutcomeRecorder
from .lifecycle.transitions import Transitions
from .links import Links
from .policy import PolicyBook, load_policies
from .redis.claims import Claims
from .redis.errors import misconfiguration
from .redis.keys import Keys
from .redis.limits import Limits
from .redis.packing import packer_options
from .redis.schedule import Schedule
from .redis.store import RedisStore, close_client, is_cluster
from .retention import Retention
from .service import ReminderService
from .settings import Settings
from .vault import ContactVault

TIMEOUTS: dict[str, Any] = {
    "socket_timeout": 10,
    "socket_connect_timeout": 5,
    "health_check_interval": 30,
}
"""Every Redis client's (the data's and the broker's): an answer within
10 s, a connection within 5, an idle connection checked before use after 30."""


def redis_client(settings: Settings) -> redis.Redis:
    """A client of the data's Redis with the timeouts every process uses: a
    ``RedisCluster`` when ``REMINDERS_REDIS_CLUSTER`` is set (it follows
    MOVED and ASK, and retries CLUSTERDOWN, as redis-py intends)."""
    if not settings.redis_cluster:
        return redis.Redis.from_url(
            settings.redis_url,
            **TIMEOUTS,
            retry_on_timeout=True,
            **packer_options(),
        )
    try:
        cluster: Any = redis.RedisCluster.from_url(
            settings.redis_url,
            **TIMEOUTS,
        )
    except RedisClusterException as err:
        problem = misconfiguration(err)
        where = _where(settings.redis_url)
        raise ConfigurationError(problem or f"no Redis Cluster answers at {where}") from err
    # A RedisCluster has the commands of a Redis client: typed as one here.
    client: redis.Redis = cluster
    return client


def _where(url: str) -> str:
    """host:port of a URL (never its password)."""
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 6379}"


def check_layout(client: redis.Redis, settings: Settings, keys: Keys) -> None:
    """ConfigurationError when the data's Redis does not match the settings:
    a cluster node without ``REMINDERS_REDIS_CLUSTER``, or data created with
    another number of shards. Records the number of shards on first use. A
    Redis that does not answer is left for the caller's retries."""
    try:
        if not is_cluster(client):
            info: Any = client.info("cluster")
            if int(info.get("cluster_enabled", 0)):
                raise ConfigurationError(
                    f"REMINDERS_REDIS_URL ({_where(settings.redis_url)}) is a node of a "
                    "Redis Cluster: set REMINDERS_REDIS_CLUSTER=true"
                )
        client.set(keys.layout, keys.shards, nx=True)
        raw: Any = client.get(keys.layout)
    except (redis.ConnectionError, redis.TimeoutError):
        return
    if raw is not None and int(raw) != keys.shards:
        raise ConfigurationError(
            f"the data was created with {int(raw)} shard(s) and REMINDERS_SHARDS gives "
            f"{keys.shards}: the layout is fixed at creation, set REMINDERS_SHARDS={int(raw)}"
        )


def signed_links(settings: Settings) -> Links:
    """The signer of the snooze and stop links in messages."""
    if settings.signing_key is None:
        raise ConfigurationError(
            "REMINDERS_SIGNING_KEY is not set; messages carry signed links "
            "(run `reminders keygen` for one)"
        )
    return Links(settings.public_url, settings.signing_key.get_secret_value())


def require_secrets(settings: Settings, *, signing: bool = False) -> None:
    """ConfigurationError listing every secret that is missing, all at once."""
    missing = [
        name
        for name, present in (
            ("REMINDERS_ENCRYPTION_KEYS", bool(settings.encryption_key_list())),
            ("REMINDERS_HASH_KEY", settings.hash_key is not None),
            ("REMINDERS_SIGNING_KEY", settings.signing_key is not None or not signing),
        )
        if not present
    ]
    if missing:
        names = ", ".join(missing)
        raise ConfigurationError(f"missing settings: {names} (`reminders keygen` prints them)")


def contact_vault(settings: Settings) -> ContactVault:
    """The vault of contacts, from ``REMINDERS_ENCRYPTION_KEYS`` and
    ``REMINDERS_HASH_KEY``."""
    require_secrets(settings)
    assert settings.hash_key is not None
    return ContactVault(settings.encryption_key_list(), settings.hash_key.get_secret_value())


@dataclass(frozen=True, slots=True)
class Core:
    """The domain's parts of one process, built from one settings object."""

    settings: Settings
    client: redis.Redis
    keys: Keys
    store: RedisStore
    vault: ContactVault
    policies: PolicyBook
    clock: Clock
    schedule: Schedule
    transitions: Transitions
    receipts: OutcomeRecorder
    claims: Claims
    agencies: AgencyRegistry
    api_keys: Credentials
    staff: Credentials
    limits: Limits
    service: ReminderService

    def retention(self, *, batch: int | None = None) -> Retention:
        """The retention sweep, in steps of ``batch`` keys (default
        ``REMINDERS_RETENTION_BATCH``)."""
        steps = self.settings.retention_batch if batch is None else batch
        return Retention(self.store, self.policies, self.clock, batch=steps)

    def close(self) -> None:
        close_client(self.client)


def build_core(
    settings: Settings,
    *,
    client: redis.Redis | None = None,
    clock: Clock | None = None,
    policies: PolicyBook | None = None,
    signing: bool = False,
) -> Core:
    """Every part, from ``settings``; ``client``, ``clock`` and ``policies``
    replace the ones the settings would give. Missing secrets fail here, all
    named at once (``signing``: the process signs links, so it needs
    ``REMINDERS_SIGNING_KEY`` too)."""
    require_secrets(settings, signing=signing)
    vault = contact_vault(settings)
    own_client = client is None
    client = client or redis_client(settings)
    clock = clock or SystemClock()
    policies = policies or load_policies(settings.policy_file)
    keys = Keys(settings.key_prefix, settings.shard_count())
    try:
        check_layout(client, settings, keys)
    except ConfigurationError:
        if own_client:
            close_client(client)
        raise
    store = RedisStore(client, keys, audit_maxlen=settings.audit_maxlen)
    transitions = Transitions(store, clock)
    agencies = AgencyRegistry(client, keys, vault, clock)
    hash_key = settings.hash_key.get_secret_value() if settings.hash_key else ""
    service = ReminderService(
        store=store,
        vault=vault,
        policies=policies,
        clock=clock,
        agencies=agencies,
        coverage_target=settings.coverage_target,
    )
    return Core(
        settings=settings,
        client=client,
        keys=keys,
        store=store,
        vault=vault,
        policies=policies,
        clock=clock,
        schedule=Schedule(client, keys),
        transitions=transitions,
        receipts=OutcomeRecorder(transitions, policies=policies),
        claims=Claims(client, keys),
        agencies=agencies,
        api_keys=Credentials(client, keys, hash_key, clock, kind="api"),
        staff=Credentials(client, keys, hash_key, clock, kind="staff"),
        limits=Limits(client, keys),
        service=service,
    )


def settings_from(settings: Settings | None = None, **overrides: Any) -> Settings:
    """``settings`` (else from ``REMINDERS_*`` variables and ``.env``) with
    single settings overridden by keyword."""
    if settings is None:
        return Settings(**overrides)
    return settings.model_copy(update=overrides) if overrides else settings


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
    if redis_url is not None:
        overrides["redis_url"] = redis_url
    resolved = settings_from(settings, **overrides)
    return build_core(resolved, client=client, clock=clock, policies=policies).service
