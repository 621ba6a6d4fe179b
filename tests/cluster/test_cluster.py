"""The whole path on a real 3-master Redis Cluster: the data and the
schedule in 64 shards spread over the masters, the queue on a plain Redis."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from demo.redis_server import RedisClusterServers
from demo.sample import sample_deadlines
from reminders import ManualClock
from reminders.errors import ConfigurationError
from reminders.ids import deadline_tag
from reminders.lifecycle.states import NOT_YET_FINAL
from reminders.redis.keys import Keys
from reminders.redis.schedule import Schedule
from reminders.settings import Settings
from reminders.wiring import Core, build_core
from tests.conftest import deadline_data
from tests.workers.conftest import Rig
from workers.broker import build_broker
from workers.scheduler import Scheduler

ROOT = Path(__file__).resolve().parents[2]


def node_keys(cluster: RedisClusterServers, prefix: str) -> list[list[str]]:
    """The keys under ``prefix`` on each master, by master."""
    found: list[list[str]] = []
    for server in cluster.servers:
        node = redis.Redis(port=server.port, decode_responses=True)
        found.append(list(node.scan_iter(match=f"{prefix}*", count=1000)))
        node.close()
    return found


def test_register_release_send_receipt_coverage_recount_and_retention_on_a_cluster(
    cluster_rig: Rig,
    cluster_core: Core,
    clock: ManualClock,
    redis_cluster: RedisClusterServers,
) -> None:
    core = cluster_core
    service = core.service
    assert core.keys.shards == 64
    items = list(sample_deadlines(300, now=clock.now(), seed=5, horizon_days=10))
    results = service.register_many(items)
    assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
    planned = service.coverage().in_scope

    cluster_rig.forward.window = timedelta(hours=1)
    cluster_rig.forward.run_until(clock.now() + timedelta(days=12))

    views = [service.get(item["agency"], item["ref"]) for item in items]
    states = Counter(r.state for view in views for r in view.reminders)
    assert not set(states) & NOT_YET_FINAL, states
    assert states["delivered"] > 200, states
    sends = cluster_rig.sends()
    assert sends and set(sends.values()) == {1}, "a reminder was sent twice"
    delivered = sum(1 for view in views for r in view.reminders if r.state == "delivered")
    assert delivered == len(sends) - states["undelivered"]
    report = service.coverage()
    assert report.in_scope == planned == 300 - report.withdrawn
    assert report.covered == sum(
        1 for view in views if any(r.state == "delivered" for r in view.reminders)
    )
    assert service.recount() == {}

    # Every master holds deadlines, schedules and counters.
    prefix = cluster_rig.settings.key_prefix
    per_node = node_keys(redis_cluster, prefix)
    for names in per_node:
        assert any(":d:" in n for n in names), "a master holds no deadline"
        assert any(n.endswith(":cov") for n in names), "a master holds no counters"
        assert any(n.endswith(":audit") for n in names)
    assert sum(1 for names in per_node for n in names if ":d:" in n) == 300

    clock.advance(timedelta(days=400))
    purged = service.purge()
    assert purged.purged == 300 and purged.held == 0
    assert service.purge().purged == 0
    assert service.recount() == {}
    assert service.coverage().covered == report.covered


def test_listing_merges_the_shards_in_due_order_page_by_page(
    cluster_core: Core,
) -> None:
    service = cluster_core.service
    items = [
        deadline_data(ref=f"r-{i:03d}", due=f"2026-12-{1 + i % 20:02d}T17:00:00-05:00")
        for i in range(150)
    ]
    assert all(r.ok for r in service.register_many(items))

    seen: list[tuple[float, str]] = []
    cursor = None
    while True:
        page = service.deadlines("saaq", cursor=cursor, limit=40)
        seen += [(d.due.timestamp(), deadline_tag(d.agency, d.ref)) for d in page.deadlines]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 150
    assert seen == sorted(seen)
    december_5 = service.deadlines("saaq", due_from=_day(5), due_to=_day(5), limit=100)
    assert len(december_5.deadlines) == 8


def _day(n: int) -> Any:
    from datetime import date

    return date(2026, 12, n)


def test_opt_outs_are_sharded_by_address_and_stop_later_reminders(
    cluster_core: Core,
) -> None:
    service = cluster_core.service
    phones = [f"+1514555{i:04d}" for i in range(40)]
    for phone in phones:
        assert service.opt_out("sms", phone) is True
    assert all(service.is_opted_out("sms", phone) for phone in phones)
    assert service.opt_in("sms", phones[0]) is True
    assert not service.is_opted_out("sms", phones[0])
    citizen = {"phone": phones[1], "email": "a@example.ca", "timezone": "America/Toronto"}
    (result,) = service.register_many([deadline_data(citizen=citizen)])
    assert result.ok, result.error
    view = service.get("saaq", "permit-2026-00042")
    assert view.reminders and all(r.channel != "sms" for r in view.reminders)


def test_a_node_of_a_cluster_without_the_cluster_setting_is_one_clear_error(
    cluster_settings: Settings,
) -> None:
    plain = cluster_settings.model_copy(update={"redis_cluster": False})
    with pytest.raises(ConfigurationError, match="set REMINDERS_REDIS_CLUSTER=true"):
        build_core(plain)


def test_the_cluster_setting_on_a_plain_redis_is_one_clear_error(
    cluster_settings: Settings, redis_url: str
) -> None:
    wrong = cluster_settings.model_copy(update={"redis_url": redis_url})
    with pytest.raises(ConfigurationError, match="not a Redis Cluster node"):
        build_core(wrong)


def test_a_cluster_needs_a_plain_redis_for_the_broker(cluster_settings: Settings) -> None:
    missing = cluster_settings.model_copy(update={"broker_url": None})
    with pytest.raises(ConfigurationError, match="REMINDERS_BROKER_URL"):
        build_broker(missing)


def test_the_number_of_shards_is_fixed_at_creation(cluster_settings: Settings) -> None:
    build_core(cluster_settings).close()
    other = cluster_settings.model_copy(update={"shards": 16})
    with pytest.raises(ConfigurationError, match="created with 64 shard"):
        build_core(other)


def test_a_scheduler_that_meets_moved_stops_with_one_line_instead_of_retrying(
    cluster_settings: Settings, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    # As if the start-up check had been bypassed: a plain client on one node.
    node = redis.Redis.from_url(cluster_settings.redis_url)
    keys = Keys(cluster_settings.key_prefix, 64)
    broker = build_broker(cluster_settings)
    scheduler = Scheduler(schedule=Schedule(node, keys), broker=broker, clock=clock)
    with pytest.raises(ConfigurationError, match="REMINDERS_REDIS_CLUSTER=true"):
        scheduler.run()
    lines = [r.getMessage() for r in caplog.records if r.name == "reminders.scheduler"]
    assert not any("redis unavailable" in line for line in lines)
    assert any("the scheduler stops" in line for line in lines)
    node.close()
    broker.close()


def test_the_scheduler_command_on_a_cluster_node_exits_with_one_line(
    cluster_settings: Settings,
) -> None:
    env = {
        "REMINDERS_REDIS_URL": cluster_settings.redis_url,
        "REMINDERS_KEY_PREFIX": cluster_settings.key_prefix,
        "REMINDERS_ENCRYPTION_KEYS": cluster_settings.encryption_keys.get_secret_value(),  # type: ignore[union-attr]
        "REMINDERS_HASH_KEY": cluster_settings.hash_key.get_secret_value(),  # type: ignore[union-attr]
        "PATH": "/usr/bin:/bin",
    }
    done = subprocess.run(
        [sys.executable, "-m", "reminders", "scheduler"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    text = (done.stdout + done.stderr).decode()
    assert "REMINDERS_REDIS_CLUSTER=true" in text
    assert "Traceback" not in text and "unavailable" not in text
