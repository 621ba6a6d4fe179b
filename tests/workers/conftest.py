"""A worker and a scheduler in this process, on the session's Redis, with
the test's manual clock: weeks of schedule run in seconds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import dramatiq
import pytest
import redis

from channels.sandbox import accepted_sends
from reminders import ManualClock, ReminderService
from reminders.redis.keys import Keys
from reminders.settings import Settings
from workers.app import Worker, build_scheduler, build_worker
from workers.fastforward import FastForward
from workers.scheduler import Scheduler


@dataclass
class Rig:
    worker: Worker
    scheduler: Scheduler
    runner: dramatiq.Worker
    client: redis.Redis
    settings: Settings
    forward: FastForward

    def run_due(self) -> None:
        """Release everything due now and wait until it was handled and
        every sandbox receipt recorded."""
        self.forward.run_due(timeout_s=30)

    def sends(self) -> dict[str, int]:
        sends = accepted_sends(self.client, Keys(self.settings.key_prefix))
        return {rid: len(times) for rid, times in sends.items()}


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
        forward = FastForward(worker, scheduler, clock, threads=4)
        rig = Rig(worker, scheduler, forward.runner, redis_client, tuned, forward)
        built.append(rig)
        return rig

    yield make
    for rig in built:
        rig.forward.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    return make_rig()


def state(service: ReminderService, ref: str = "permit-2026-00042") -> list[tuple[str, str, str]]:
    """(channel, state, reason) of every reminder of the deadline, in order."""
    view = service.get("saaq", ref)
    return [(r.channel, r.state, r.reason) for r in view.reminders]
