"""A real 3-master Redis Cluster for the session (Debian's redis-server and
redis-cli, ``redis-cli --cluster create``), with the session's plain Redis as
the broker's: Dramatiq's Redis broker does not support Cluster."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
import redis

from demo.redis_server import RedisClusterServers
from reminders import ManualClock
from reminders.redis.store import close_client
from reminders.settings import Settings
from reminders.wiring import Core, build_core
from tests.conftest import register_agencies
from tests.workers.conftest import Rig
from workers.app import build_scheduler, build_worker
from workers.fastforward import FastForward


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisClusterServers]:
    with RedisClusterServers(masters=3) as cluster:
        yield cluster


@pytest.fixture
def cluster_settings(
    redis_cluster: RedisClusterServers, redis_url: str, settings: Settings
) -> Settings:
    """The test's settings on the cluster (a key prefix of its own), with
    the session's plain Redis as the broker's."""
    made = settings.model_copy(
        update={
            "redis_url": redis_cluster.url,
            "redis_cluster": True,
            "broker_url": redis_url,
            "key_prefix": f"c{secrets.token_hex(4)}:",
        }
    )
    register_agencies(made)
    return made


@pytest.fixture
def cluster_core(cluster_settings: Settings, clock: ManualClock) -> Iterator[Core]:
    """The domain's parts on the cluster, built as every process builds them."""
    core = build_core(cluster_settings, clock=clock)
    yield core
    core.close()


@pytest.fixture
def cluster_rig(cluster_settings: Settings, clock: ManualClock) -> Iterator[Rig]:
    """Scheduler and a real Dramatiq worker in this process, on the cluster."""
    tuned = cluster_settings.model_copy(update={"sandbox_receipt_delay_s": 0.0})
    worker = build_worker(tuned, clock=clock)
    scheduler = build_scheduler(tuned, clock=clock, broker=worker.broker)
    forward = FastForward(worker, scheduler, clock, threads=8)
    client: redis.Redis = worker.core.client
    yield Rig(worker, scheduler, forward.runner, client, tuned, forward)
    forward.close()
    close_client(scheduler.schedule.client)
