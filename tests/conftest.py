"""Shared fixtures: a real Redis server for the session, services on it.

The server is ``REDIS_URL`` when set, else a private redis-server started
here on a free loopback port and stopped at the end. Each test gets its own
key prefix, so tests never see each other's keys (nor a user's, with
REDIS_URL).
"""

from __future__ import annotations

import gc
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet

from demo.redis_server import RedisServer
from reminders import ManualClock, ReminderService
from reminders.ids import deadline_tag
from reminders.redis.keys import Keys
from reminders.settings import Settings
from reminders.views import DeadlineView
from reminders.wiring import Core, build_core
from tests.fakes.providers import FakeSendGrid, FakeTwilio, Receiver

START = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("REDIS_URL")
    if url:
        yield url
        return
    with RedisServer() as server:
        yield server.url


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


AGENCIES = {
    "saaq": ("SAAQ", "SAAQ"),
    "revenu": ("Revenu Québec", "Revenu Québec"),
    "emploi": ("Emploi Québec", "Emploi Québec"),
}
"""The agencies every test's key prefix has registered."""


def register_agencies(settings: Settings) -> None:
    """Register :data:`AGENCIES` under ``settings``' key prefix."""
    core = build_core(settings)
    try:
        for slug, (fr, en) in AGENCIES.items():
            core.agencies.ensure(slug, name_fr=fr, name_en=en)
    finally:
        core.close()


@pytest.fixture
def settings(redis_url: str) -> Settings:
    made = Settings(
        _env_file=None,
        redis_url=redis_url,
        key_prefix=f"t{secrets.token_hex(4)}:",
        encryption_keys=Fernet.generate_key().decode(),
        hash_key=secrets.token_urlsafe(32),
        signing_key=secrets.token_urlsafe(32),
    )
    register_agencies(made)
    return made


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def make_core(settings: Settings, clock: ManualClock) -> Iterator[Callable[..., Core]]:
    """Builds the domain's parts as every process does (``build_core``), on
    the test's settings and clock; keyword arguments go to ``build_core``."""
    built: list[Core] = []

    def make(**parts: Any) -> Core:
        core = build_core(settings, clock=clock, **parts)
        built.append(core)
        return core

    yield make
    for core in built:
        core.close()


@pytest.fixture
def core(make_core: Callable[..., Core]) -> Core:
    return make_core()


@pytest.fixture
def sharded_core(settings: Settings, clock: Any) -> Iterator[Callable[[int], Core]]:
    """Builds a core whose data has the given number of shards (on a fresh
    key prefix: the layout is fixed at creation)."""
    built: list[Core] = []

    def make(shards: int) -> Core:
        sharded = settings.model_copy(
            update={"shards": shards, "key_prefix": f"t{secrets.token_hex(4)}:"}
        )
        register_agencies(sharded)
        built.append(build_core(sharded, clock=clock))
        return built[-1]

    yield make
    for core in built:
        core.close()


@pytest.fixture
def make_service(make_core: Callable[..., Core]) -> Callable[..., ReminderService]:
    return lambda **parts: make_core(**parts).service


@pytest.fixture
def service(core: Core) -> ReminderService:
    return core.service


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    server = FakeTwilio().start()
    yield server
    server.stop()


@pytest.fixture
def fake_sendgrid() -> Iterator[FakeSendGrid]:
    server = FakeSendGrid().start()
    yield server
    server.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def prefixed_keys(client: redis.Redis, settings: Settings) -> list[bytes]:
    """Every key this test's service wrote (the agencies registered for the
    test by :func:`register_agencies`, and the layout mark, left out)."""
    keys = Keys(settings.key_prefix, settings.shard_count())
    names = [keys.agencies, keys.layout, *(keys.agency(slug) for slug in AGENCIES)]
    setup = {name.encode() for name in names}
    found = client.scan_iter(match=f"{settings.key_prefix}*", count=1000)
    return sorted(name for name in found if name not in setup)


def scheduled_for(client: redis.Redis, keys: Keys, view: DeadlineView) -> dict[str, float]:
    """The schedule's entries for one deadline's reminders (receipt checks
    left out), by member."""
    ids = {r.id for r in view.reminders}
    shard = keys.shard_of(deadline_tag(view.agency, view.ref))
    entries: Any = client.zrange(keys.schedule(shard), 0, -1, withscores=True)
    return {m.decode(): score for m, score in entries if m.decode() in ids}


def next_planned(view: DeadlineView) -> dict[str, float]:
    """What the schedule holds for a deadline: its earliest planned reminder."""
    planned = [r for r in view.reminders if r.state == "planned"]
    if not planned:
        return {}
    first = min(planned, key=lambda r: (r.send_at, int(r.id.rsplit("-", 1)[1])))
    return {first.id: first.send_at.timestamp()}


def process_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a ``reminders`` process on ``settings`` (no other
    ``REMINDERS_*`` variable leaks in); keyword arguments add variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REMINDERS_")}
    env.update(
        REMINDERS_REDIS_URL=settings.redis_url,
        REMINDERS_KEY_PREFIX=settings.key_prefix,
        REMINDERS_ENCRYPTION_KEYS=settings.encryption_keys.get_secret_value(),  # type: ignore[union-attr]
        REMINDERS_HASH_KEY=settings.hash_key.get_secret_value(),  # type: ignore[union-attr]
        **extra,
    )
    return env


def deadline_data(**overrides: Any) -> dict[str, Any]:
    """A valid deadline mapping; keyword arguments replace fields."""
    data: dict[str, Any] = {
        "agency": "saaq",
        "ref": "permit-2026-00042",
        "due": "2026-12-15T17:00:00-05:00",
        "title": {"fr": "Renouveler votre permis", "en": "Renew your licence"},
        "action_url": "https://example.gouv.qc.ca/renew",
        "citizen": {
            "phone": "+15145550123",
            "email": "a@example.ca",
            "locale": "fr",
            "timezone": "America/Toronto",
        },
        "channels": ["sms", "email", "calendar"],
        "offsets": ["7d", "1d"],
    }
    citizen = overrides.pop("citizen", None)
    data.update(overrides)
    if citizen is not None:
        data["citizen"] = {**data["citizen"], **citizen}
    return data


@pytest.fixture(autouse=True)
def _collect_garbage() -> Iterator[None]:
    """Collect garbage after each test, so that a socket or file left open is
    reported against the test that left it, not at the end of the session."""
    yield
    gc.collect()
