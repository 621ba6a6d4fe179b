"""How a shard's coverage counters are stored: one packed field per agency
and month.

:mod:`reminders.coverage` names its counters ``d|<agency>|<month>|<outcome>|
<channel>`` and ``r|<agency>|<month>|<channel>|<state>``. Kept as one hash
field each, a report read every field of every shard: with 64 shards, 20
agencies and 24 months that was about 480,000 fields and 450 ms, most of it
Redis replying and the client parsing. Here the counters of one agency and
month are one field of the shard's packed hash, whose value is
:data:`WIDTH`-byte little-endian signed integers, one per name in
:data:`SLOTS` (the compare-and-set script adds to one integer in place). A
report reads and sums about 30,000 fields instead.

A name outside the layout (none today) is kept as a field of its own in the
shard's plain counter hash, which is also where counters written before this
layout live; a report adds both, and a recount with ``--fix`` rewrites a
shard in this layout. :data:`SLOTS` only ever grows at its end (the stored
integers are read by position), and a value shorter than the layout reads
as zeros after its end.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterable, Mapping
from functools import lru_cache

SLOTS: tuple[str, ...] = (
    "d|all|-",
    "d|covered|sms",
    "d|covered|email",
    "d|covered|calendar",
    "d|withdrawn|-",
    "d|no_contact|-",
    "d|opted_out|-",
    "d|registered_late|-",
    "d|completed_early|-",
    "d|failed|-",
    "d|no_receipt|-",
    "r|sms|out",
    "r|sms|delivered",
    "r|sms|undelivered",
    "r|sms|failed",
    "r|sms|no_receipt",
    "r|email|out",
    "r|email|delivered",
    "r|email|undelivered",
    "r|email|failed",
    "r|email|no_receipt",
    "r|calendar|out",
    "r|calendar|delivered",
    "r|calendar|undelivered",
    "r|calendar|failed",
    "r|calendar|no_receipt",
)
"""The counters of one agency and month, in their stored order (append only)."""
WIDTH = 4
"""Bytes per counter (the script packs ``<i4``)."""
_INDEX = {name: index for index, name in enumerate(SLOTS)}
_SPLIT = [tuple(slot.split("|", 1)) for slot in SLOTS]
_ALL = struct.Struct(f"<{len(SLOTS)}i")
PACKED_SIZE = WIDTH * len(SLOTS)
"""Bytes of one agency and month's counters (the script zero-fills a new value to it)."""
_TYPECODE = next(code for code in "ilh" if array(code).itemsize == WIDTH)


@lru_cache(maxsize=65536)
def place(name: str) -> tuple[str, int] | None:
    """(agency and month, counter's index) of a counter name in the packed
    layout, or None for a name kept as a plain field."""
    parts = name.split("|")
    if len(parts) != 5:
        return None
    index = _INDEX.get(f"{parts[0]}|{parts[3]}|{parts[4]}")
    return None if index is None else (f"{parts[1]}|{parts[2]}", index)


def _full(packed: bytes) -> bytes:
    """A stored value at the layout's length (one written under a shorter
    layout ends early; one of a later layout is longer)."""
    size = PACKED_SIZE
    if len(packed) == size:
        return packed
    return packed.ljust(size, b"\0")[:size]


def _columns(values: list[bytes]) -> list[int]:
    """Each counter's sum over ``values`` (one agency and month's packed
    values: one per shard, or one alone)."""
    joined = b"".join(values)
    if len(joined) != PACKED_SIZE * len(values):
        joined = b"".join(map(_full, values))
    flat = array(_TYPECODE, joined)
    if sys.byteorder != "little":
        flat.byteswap()
    width = len(SLOTS)
    return [sum(flat[index::width]) for index in range(width)]


def pack(fields: Mapping[str, int]) -> tuple[dict[str, bytes], dict[str, int]]:
    """A shard's counters by name -> (packed fields by agency and month,
    plain fields for names outside the layout)."""
    groups: dict[str, list[int]] = {}
    plain: dict[str, int] = {}
    for name, value in fields.items():
        where = place(name)
        if where is None:
            plain[name] = value
        else:
            groups.setdefault(where[0], [0] * len(SLOTS))[where[1]] += value
    return {group: _ALL.pack(*values) for group, values in groups.items()}, plain


def unpack(packed: Mapping[bytes, bytes], plain: Mapping[str, int]) -> dict[str, int]:
    """A shard's counters by name, from its packed and plain fields (zeros
    left out)."""
    fields = dict(plain)
    for group, value in packed.items():
        _add(fields, _text(group), _columns([value]))
    return {name: n for name, n in fields.items() if n}


def summed(shards: Iterable[tuple[Mapping[bytes, bytes], Mapping[str, int]]]) -> dict[str, int]:
    """Every shard's counters added up, by name: the packed fields of each
    agency and month summed column by column, then named once."""
    by_group: dict[bytes, list[bytes]] = {}
    fields: dict[str, int] = {}
    for packed, plain in shards:
        for group, value in packed.items():
            by_group.setdefault(group, []).append(value)
        for name, n in plain.items():
            fields[name] = fields.get(name, 0) + n
    for group, values in by_group.items():
        _add(fields, _text(group), _columns(values))
    return {name: n for name, n in fields.items() if n}


def _add(fields: dict[str, int], group: str, values: Iterable[int]) -> None:
    for (kind, rest), n in zip(_SPLIT, values, strict=True):
        if n:
            name = f"{kind}|{group}|{rest}"
            fields[name] = fields.get(name, 0) + n


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw
