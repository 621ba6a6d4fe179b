"""Telling a Redis that is away from a Redis that is set up wrong.

A process retries while Redis is away (a restart, a failover, a cluster
whose slots are moving: redis-py follows MOVED and ASK and retries
CLUSTERDOWN and TRYAGAIN itself). Some errors cannot pass by waiting; for
those :func:`misconfiguration` gives the one line an operator needs.
"""

from __future__ import annotations

from redis.exceptions import (
    AskError,
    AuthenticationError,
    MovedError,
    RedisClusterException,
    ResponseError,
)


def misconfiguration(err: Exception) -> str | None:
    """What is set up wrong, when retrying ``err`` cannot help; else None."""
    if isinstance(err, MovedError | AskError):
        return (
            "REMINDERS_REDIS_URL names a node of a Redis Cluster "
            "(it answered MOVED): set REMINDERS_REDIS_CLUSTER=true"
        )
    if isinstance(err, AuthenticationError):
        return "Redis refused the credentials of REMINDERS_REDIS_URL"
    text = str(err)
    if isinstance(err, RedisClusterException) and "not enabled" in text:
        return (
            "REMINDERS_REDIS_CLUSTER=true but REMINDERS_REDIS_URL is not a "
            "Redis Cluster node: unset REMINDERS_REDIS_CLUSTER"
        )
    if isinstance(err, ResponseError) and text.startswith("CROSSSLOT"):
        return "a step touched several Redis Cluster slots (a bug: please report it)"
    if isinstance(err, ResponseError) and "NOPERM" in text:
        return "the Redis user of REMINDERS_REDIS_URL lacks a permission (NOPERM)"
    return None
