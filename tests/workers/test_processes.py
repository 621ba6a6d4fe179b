"""The real processes: `reminders scheduler` and `reminders worker`
(Dramatiq's CLI) as subprocesses on a Redis of the test's own, sandbox
channels, the system clock. Reminders are registered with a clock an hour in
the past so that they fall due over the next seconds."""

from __future__ import annotations

import json
import os
import random
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from cryptography.fernet import Fernet

from channels.sandbox import accepted_sends
from demo.redis_server import RedisClusterServers, RedisServer
from reminders import ManualClock, connect
from reminders.ids import deadline_tag
from reminders.record import DeadlineRecord
from reminders.redis.keys import Keys
from reminders.redis.store import close_client
from reminders.settings import Settings
from tests.conftest import register_agencies

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


class System:
    """Schedulers and workers of one test, with what they share."""

    def __init__(
        self, server: RedisServer, logs: Path, cluster: RedisClusterServers | None = None
    ) -> None:
        self.server = server
        self.logs = logs
        self.cluster = cluster
        data = (
            {}
            if cluster is None
            else {
                "REMINDERS_REDIS_CLUSTER": "true",
                "REMINDERS_BROKER_URL": server.url,  # the queue stays on a plain Redis
            }
        )
        self.env = {
            **os.environ,
            **data,
            "REMINDERS_REDIS_URL": server.url if cluster is None else cluster.url,
            "REMINDERS_KEY_PREFIX": f"p{secrets.token_hex(3)}:",
            "REMINDERS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "REMINDERS_HASH_KEY": secrets.token_urlsafe(32),
            "REMINDERS_SIGNING_KEY": secrets.token_urlsafe(32),
            "REMINDERS_PROVIDER": "sandbox",
            "REMINDERS_SANDBOX_RECEIPT_DELAY_S": "0.05",
            "REMINDERS_SCHEDULER_POLL_S": "0.2",
            "REMINDERS_LEASE_S": "5",
            "REMINDERS_REDELIVERY_S": "10",
            "REMINDERS_WORKER_HEARTBEAT_TIMEOUT_S": "3",
        }
        values: dict[str, Any] = {
            k[10:].lower(): v for k, v in self.env.items() if k.startswith("REMINDERS_")
        }
        self.settings = Settings(_env_file=None, **values)
        register_agencies(self.settings)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.keys = Keys(self.settings.key_prefix, self.settings.shard_count())
        self.client = self.data_client()

    def data_client(self) -> redis.Redis:
        if self.cluster is None:
            return redis.Redis.from_url(self.server.url)
        client: Any = redis.RedisCluster.from_url(self.cluster.url)
        return client  # type: ignore[no-any-return]

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{len(self.procs)}-{args[0]}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-m", "reminders", *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def scheduler(self) -> subprocess.Popen[bytes]:
        return self.spawn("scheduler")

    def worker(self) -> subprocess.Popen[bytes]:
        return self.spawn("worker", "--processes", "1", "--threads", "8")

    def register(self, count: int, spread_s: float, lead_s: float = 3.0) -> list[str]:
        """``count`` deadlines whose one email reminder falls due over
        ``spread_s`` seconds from ``lead_s`` from now."""
        now = datetime.now(UTC)
        service = connect(self.settings, clock=ManualClock(now - timedelta(hours=1)))
        items: list[dict[str, Any]] = []
        for i in range(count):
            send_at = now + timedelta(seconds=lead_s + spread_s * i / count)
            items.append(
                {
                    "agency": "saaq",
                    "ref": f"ref-{i}",
                    "due": (send_at + timedelta(minutes=90)).isoformat(),
                    "title": "Renouveler votre permis",
                    "citizen": {"email": f"c{i}@example.ca", "timezone": "America/Toronto"},
                    "channels": ["email"],
                    "offsets": ["90m"],
                }
            )
        results = service.register_many(items)
        assert all(r.ok for r in results), [r.error for r in results if not r.ok][:3]
        return [f"ref-{i}" for i in range(count)]

    def sends(self) -> dict[str, int]:
        return {rid: len(times) for rid, times in accepted_sends(self.client, self.keys).items()}

    def states(self, refs: list[str]) -> dict[str, int]:
        pipe = self.client.pipeline(transaction=False)
        for ref in refs:
            pipe.get(self.keys.deadline(deadline_tag("saaq", ref)))
        counts: dict[str, int] = {}
        for raw in pipe.execute():
            state = DeadlineRecord.loads(raw).reminders[0].state
            counts[state] = counts.get(state, 0) + 1
        return counts

    def wait_for(self, refs: list[str], done: set[str], timeout_s: float) -> dict[str, int]:
        deadline = time.monotonic() + timeout_s
        while True:
            counts = self.states(refs)
            if sum(counts.get(s, 0) for s in done) == len(refs) or time.monotonic() > deadline:
                return counts
            time.sleep(0.5)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        close_client(self.client)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


@pytest.fixture
def system(tmp_path: Path) -> Iterator[System]:
    data = tmp_path / "redis"
    data.mkdir()
    server = RedisServer(appendonly=True, data_dir=data).start()
    built = System(server, tmp_path)
    yield built
    built.stop()
    built.server.stop()


def test_ten_thousand_reminders_two_schedulers_two_workers_each_sent_exactly_once(
    system: System,
) -> None:
    refs = system.register(10_000, spread_s=10)
    for _ in range(2):
        system.scheduler()
        system.worker()

    counts = system.wait_for(refs, {"delivered"}, timeout_s=240)

    assert counts == {"delivered": 10_000}
    sends = system.sends()
    assert len(sends) == 10_000
    assert set(sends.values()) == {1}


@pytest.fixture
def cluster_system(tmp_path: Path) -> Iterator[System]:
    """The data on a 3-master Redis Cluster, the queue on a plain Redis."""
    broker = RedisServer(appendonly=True).start()
    cluster = RedisClusterServers(masters=3).start()
    built = System(broker, tmp_path, cluster)
    yield built
    built.stop()
    cluster.stop()
    broker.stop()


@pytest.fixture(params=["one redis", "cluster"])
def any_system(request: pytest.FixtureRequest) -> System:
    name = "system" if request.param == "one redis" else "cluster_system"
    found: System = request.getfixturevalue(name)
    return found


def test_killing_workers_and_schedulers_loses_nothing_and_sends_nothing_twice(
    any_system: System,
) -> None:
    system = any_system
    refs = system.register(1_000, spread_s=8)
    schedulers = [system.scheduler(), system.scheduler()]
    workers = [system.worker(), system.worker()]
    rng = random.Random(4)
    time.sleep(3)
    for _ in range(3):
        time.sleep(rng.uniform(0.5, 2.0))
        victim = rng.choice(workers)
        for child in children(victim.pid):
            os.kill(child, signal.SIGKILL)  # the Dramatiq worker process, mid-send
        victim.wait(timeout=60)  # its master then stops, as Dramatiq does
        workers.remove(victim)
        workers.append(system.worker())  # ...and the supervisor restarts it
        time.sleep(rng.uniform(0.2, 1.0))
        dead = rng.choice(schedulers)
        os.kill(dead.pid, signal.SIGKILL)
        dead.wait()
        schedulers.remove(dead)
        schedulers.append(system.scheduler())

    counts = system.wait_for(refs, {"delivered", "sending", "sent"}, timeout_s=120)
    # Give stragglers (requeued messages of killed workers) time to settle.
    counts = system.wait_for(refs, {"delivered"}, timeout_s=20)

    sends = system.sends()
    assert set(sends.values()) <= {1}, "a reminder was sent twice"
    assert sum(counts.values()) == 1_000
    assert set(counts) <= {"delivered", "sending", "sent"}, counts
    # Not delivered: only those caught in the crash window (sending), or whose
    # sandbox receipt died with its worker (sent: they end no_receipt later).
    assert counts.get("sending", 0) + counts.get("sent", 0) <= 3 * 8 + 3 * 50
    assert len(sends) >= counts.get("delivered", 0) + counts.get("sent", 0)


def test_workers_and_schedulers_ride_out_a_redis_restart(system: System) -> None:
    refs = system.register(1_000, spread_s=8)
    system.scheduler()
    system.worker()
    time.sleep(5)

    port = system.server.port
    system.server.stop()  # SIGTERM: Redis writes its AOF and exits
    time.sleep(2)
    data = system.server.data_dir
    system.server = RedisServer(port=port, appendonly=True, data_dir=data).start()
    system.client = redis.Redis.from_url(system.server.url)

    counts = system.wait_for(refs, {"delivered"}, timeout_s=120)

    assert counts == {"delivered": 1_000}
    assert set(system.sends().values()) == {1}


def test_workers_and_schedulers_log_timestamped_json_lines_without_addresses(
    system: System,
) -> None:
    system.env["REMINDERS_LOG_FORMAT"] = "json"
    refs = system.register(40, spread_s=1)
    system.scheduler()
    system.worker()
    counts = system.wait_for(refs, {"delivered"}, timeout_s=60)
    system.stop()
    assert counts == {"delivered": 40}

    lines: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(system.logs.glob("*.log")):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert not re.search(r"c\d+@example\.ca", text)  # only masked: c•••@example.ca
        kind = path.stem.split("-", 1)[1]
        lines.setdefault(kind, []).extend(
            json.loads(line) for line in text.splitlines() if line.startswith("{")
        )
    for entry in lines["worker"] + lines["scheduler"]:
        assert {"ts", "level", "logger", "message"} <= set(entry)
        assert entry["ts"].endswith("+00:00")
    sent = [e for e in lines["worker"] if e["message"].startswith("sent channel=email")]
    receipts = [e for e in lines["worker"] if e["message"].startswith("receipt reminder=")]
    assert len(sent) == 40 and len(receipts) >= 40
    # A worker writes its lines in batches; the last, logged as it stops, too.
    assert any(e["message"] == "Worker has been shut down." for e in lines["worker"])
    assert any(e["message"].startswith("released=") for e in lines["scheduler"])
