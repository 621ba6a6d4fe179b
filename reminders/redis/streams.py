"""Consumer groups on the shards' audit streams."""

from __future__ import annotations

from collections.abc import Sequence

import redis


def ensure_group(client: redis.Redis, streams: Sequence[str], group: str) -> None:
    """``group`` on each of ``streams`` (made when missing), reading from now
    on: events from before a group existed are not replayed. One round trip."""
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        pipe.xgroup_create(stream, group, id="$", mkstream=True)
    for reply in pipe.execute(raise_on_error=False):
        if isinstance(reply, Exception) and "BUSYGROUP" not in str(reply):
            raise reply
