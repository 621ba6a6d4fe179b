"""How commands are packed for Redis: hiredis, without redis-py's copy.

redis-py's hiredis packer first copies every argument through a generator
(turning a ``bytearray`` or ``memoryview`` into ``bytes``) and then hands
them to hiredis. Our commands carry neither, and they are long: a deadline
write is a script call of about 20 arguments per document, so a worker's
write of 32 documents is ~650 arguments, and that copy was about 60% of
packing it (measured: 260-290 µs against 100-120 µs per 32-write call).
:class:`DirectPacker` gives hiredis the arguments as they are and leaves
anything hiredis refuses to redis-py's packer, so the bytes on the wire and
the errors (``DataError`` for ``None`` or ``True``) are the same.
"""

from __future__ import annotations

from typing import Any

import hiredis
from redis import connection


class DirectPacker:
    """A drop-in ``command_packer`` for redis-py's ``Connection``."""

    def __init__(self) -> None:
        self._fallback = redis_py_packer()

    def pack(self, *args: Any) -> list[bytes]:
        name = args[0]
        # redis-py splits a command name given with spaces ("CLIENT SETNAME").
        if isinstance(name, str) and " " not in name:
            try:
                return [hiredis.pack_command(args)]
            except TypeError:
                pass  # a bytearray, a memoryview, or a value Redis cannot take
        packed: list[bytes] = self._fallback.pack(*args)
        return packed


def redis_py_packer() -> Any:
    """redis-py's own hiredis packer, as a plain connection builds it when
    given nothing (its constructor is typed in some releases, not in others,
    and takes a fallback and an encoder since 8.2: called with neither, it
    converts views to bytes and refuses what hiredis refuses)."""
    serializer: Any = connection.HiredisRespSerializer
    return serializer()


def packer_options() -> dict[str, Any]:
    """Connection options of a plain Redis client that packs with
    :class:`DirectPacker` (redis-py's cluster client does not take one)."""
    return {"command_packer": DirectPacker()}
