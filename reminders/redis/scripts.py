"""Lua scripts: ``.lua`` files beside the code that runs them, one loader.

Each script file documents its KEYS and ARGV at the top. :func:`lua` reads a
file once (on first use, never at import) and gives a :class:`Script`, which
runs with EVALSHA straight away and falls back to loading the source when
Redis answers NOSCRIPT (a restart, a failover or SCRIPT FLUSH emptied its
script cache). redis-py's own ``Script`` objects would add a SCRIPT EXISTS
round trip to every pipeline that holds one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, TypeVar

import redis
from redis.exceptions import NoScriptError

T = TypeVar("T")
Arg = str | int | float | bytes


@dataclass(frozen=True, slots=True)
class Script:
    """One Lua script: its name, source and SHA1."""

    name: str
    source: str
    sha: str

    def __call__(self, client: redis.Redis, keys: Sequence[str], args: Sequence[Arg]) -> Any:
        """Run it now; loads it first when Redis does not know it."""
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except NoScriptError:
            client.script_load(self.source)
            return client.evalsha(self.sha, len(keys), *keys, *args)

    def queue(self, pipe: Any, keys: Sequence[str], args: Sequence[Arg]) -> None:
        """Add a run to a pipeline; run the pipeline with :func:`run_pipeline`.
        (The command is queued by name: redis-py's cluster pipeline refuses
        its ``evalsha`` method, yet routes EVALSHA by its keys' slot.)"""
        pipe.execute_command("EVALSHA", self.sha, len(keys), *keys, *args)


@cache
def lua(package: str, name: str) -> Script:
    """The script ``<package>/lua/<name>.lua``, read once."""
    source = resources.files(package).joinpath("lua").joinpath(f"{name}.lua").read_text("utf-8")
    sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
    return Script(name, source, sha)


def run_pipeline(
    client: redis.Redis, scripts: Sequence[Script], fill: Callable[[Any], None]
) -> list[Any]:
    """Build a pipeline with ``fill`` and run it. When Redis answers NOSCRIPT
    (it forgot ``scripts``), they are loaded and the whole pipeline is sent
    again, so ``fill`` must only queue commands that are safe to send twice
    (a compare-and-set that ran the first time fails its version check)."""
    for attempt in (1, 2):
        pipe = client.pipeline(transaction=False)
        fill(pipe)
        try:
            return list(pipe.execute())
        except NoScriptError:
            if attempt == 2:
                raise
            for script in scripts:
                client.script_load(script.source)
    raise AssertionError("unreachable")
