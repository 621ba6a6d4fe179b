"""The command packer: the same bytes and errors as redis-py's, on real clients."""

from __future__ import annotations

from typing import Any

import pytest
from redis.exceptions import DataError

from reminders.redis.packing import DirectPacker, redis_py_packer
from reminders.settings import Settings
from reminders.wiring import redis_client
from workers.broker import build_broker

ARGS: list[tuple[Any, ...]] = [
    ("GET", "k"),
    ("SET", "clé", "déjà vu", "EX", 30),
    ("ZADD", "s", 1.5, "m", 17_000_000_000.25, "n", 10**20, "big"),
    ("SET", b"bytes key", b"a b\r\n\x00"),
    ("SET", "k", memoryview(b"view")),
    ("SET", "k", bytearray(b"array")),
    ("CLIENT SETNAME", "worker-1"),
    (b"CLIENT", b"SETNAME", b"w"),
    ("EVALSHA", "a" * 40, 2, "k1", "k2", *range(600), '{"v":6,"rm":[{"t":1}]}' * 20),
]


@pytest.mark.parametrize("args", ARGS, ids=lambda a: str(a[0])[:14])
def test_packs_the_same_bytes_as_redis_py(args: tuple[Any, ...]) -> None:
    assert DirectPacker().pack(*args) == redis_py_packer().pack(*args)


@pytest.mark.parametrize("bad", [None, True, object()])
def test_refuses_what_redis_py_refuses(bad: object) -> None:
    redis_py = redis_py_packer()
    with pytest.raises(DataError):
        redis_py.pack("SET", "k", bad)
    with pytest.raises(DataError):
        DirectPacker().pack("SET", "k", bad)


def test_the_data_and_broker_clients_pack_with_it_and_keep_their_timeouts(
    settings: Settings,
) -> None:
    data = redis_client(settings)
    broker = build_broker(settings)
    try:
        for client in (data, broker.client):
            connection = client.connection_pool.get_connection()
            try:
                assert isinstance(connection._command_packer, DirectPacker)
                # The broker's options reach its connections (Dramatiq
                # builds a client from a URL alone, without them).
                assert connection.socket_timeout == 10
                assert connection.health_check_interval == 30
            finally:
                client.connection_pool.release(connection)
        key = f"{settings.key_prefix}packing"
        data.set(key, "déjà vu", ex=60)
        data.set(key + ":view", memoryview(b"view"), ex=60)
        assert data.get(key) == "déjà vu".encode()
        assert data.get(key + ":view") == b"view"
        with pytest.raises(DataError):
            data.set(key, None)  # type: ignore[arg-type]
        assert broker.client.get(key) == "déjà vu".encode()
    finally:
        data.close()
        broker.close()
