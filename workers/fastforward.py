"""Weeks of schedule in seconds: the real scheduler and a real Dramatiq
worker in this process, on a manual clock (the demo and the tests).

Each step moves the clock to the next due time (or a little past it, by
``window``, so the reminders due close together go out in one batch),
releases what is due and waits until every released message was handled and
every sandbox receipt recorded, so the clock never runs ahead of the work.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

import dramatiq

from reminders.clock import ManualClock

from .app import Worker
from .broker import queue_length
from .scheduler import Scheduler


class FastForward:
    """Drives a scheduler and an in-process worker on a manual clock."""

    def __init__(
        self,
        worker: Worker,
        scheduler: Scheduler,
        clock: ManualClock,
        *,
        threads: int = 8,
        window: timedelta = timedelta(0),
    ) -> None:
        self.worker = worker
        self.scheduler = scheduler
        self.clock = clock
        self.schedule = worker.core.schedule
        self.window = window
        self.runner = dramatiq.Worker(worker.broker, worker_threads=threads, worker_timeout=20)
        self.released = 0
        self.runner.start()

    def close(self) -> None:
        self.runner.stop()
        self.worker.close()

    def next_due(self) -> datetime | None:
        return self.schedule.next_due()

    def run_due(self, timeout_s: float = 60.0) -> None:
        """Release everything due now; return once all of it was handled."""
        for _ in range(1000):
            step = self.scheduler.step()
            self.released += step.released
            self.wait_idle(timeout_s)
            receipts = self.worker.channels.receipts
            if receipts is not None and not receipts.flush():
                raise RuntimeError("sandbox receipts could not be recorded")
            if step.released == 0:
                return
        raise RuntimeError("the schedule kept producing due members")

    def wait_idle(self, timeout_s: float) -> None:
        """Until no released member is waiting in the lease set or the queue."""
        give_up = time.monotonic() + timeout_s
        while True:
            leased = self.schedule.leased()
            queued = queue_length(self.worker.broker)
            if not leased and not queued:
                return
            if time.monotonic() > give_up:
                raise TimeoutError(f"{leased} released reminders still not handled")
            time.sleep(0.002)

    def run_until(self, end: datetime, on_step: Callable[[datetime], object] | None = None) -> None:
        """Step through every due time up to ``end``, then stop the clock at ``end``."""
        while True:
            due = self.next_due()
            if due is None or due > end:
                break
            self.clock.set(min(max(self.clock.now(), due + self.window), end))
            self.run_due()
            if on_step is not None:
                on_step(self.clock.now())
        if self.clock.now() < end:
            self.clock.set(end)
            self.run_due()
