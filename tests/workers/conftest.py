"""A worker and a scheduler in this process, on the session's Redis, with
the test's manual clock: weeks of schedule run in seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dramatiq
import pytest
import redis

from channels.sandbox import sends_key
from config.settings import Settings
from reminders import ManualClock, ReminderService
from workers.app import Worker, build_scheduler, build_worker
from workers.broker import QUEUE
from workers.scheduler import Scheduler


@dataclass
class Rig:
    worker: Worker
    scheduler: Scheduler
    runner: dramatiq.Worker
    client: redis.Redis
    settings: Settings

    def run_due(self) -> None:
        """Release everything due now and wait until it was handled and
        every sandbox receipt recorded."""
        for _ in range(100):
            step = self.scheduler.step()
            self.worker.broker.join(QUEUE, timeout=30_000)
            self.runner.join()
            receipts = self.worker.channels.receipts
            assert receipts is None or receipts.flush()
            if step.released == 0:
                return
        raise AssertionError("the schedule kept producing due members")

    def sends(self) -> dict[str, int]:
        raw = self.client.hgetall(sends_key(self.settings.key_prefix))
        return {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in raw.items()}


@pytest.fixture
def make_rig(
    settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> Iterator[Callable[..., Rig]]:
    built: list[Rig] = []

    def make(**overrides: Any) -> Rig:
        values = {"sandbox_receipt_delay_s": 0.0, "retry_base_s": 60.0, **overrides}
        tuned = settings.model_copy(update=values)
        worker = build_worker(tuned, clock=clock, client=redis_client)
        scheduler = build_scheduler(tuned, clock=clock, client=redis_client, broker=worker.broker)
        runner = dramatiq.Worker(worker.broker, worker_threads=4, worker_timeout=100)
        runner.start()
        rig = Rig(worker, scheduler, runner, redis_client, tuned)
        built.append(rig)
        return rig

    yield make
    for rig in built:
        rig.runner.stop()
        rig.worker.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


def state(service: ReminderService, ref: str = "permit-2026-00042") -> list[tuple[str, str, str]]:
    """(channel, state, reason) of every reminder of the deadline, in order."""
    view = service.get("saaq", ref)
    return [(r.channel, r.state, r.reason) for r in view.reminders]
