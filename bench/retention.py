"""Retention benchmark: what a sweep step costs a scheduler, how fast a purge goes.

    python -m bench.retention [--deadlines 20000] [--batch 500]

Starts its own redis-server, registers ``--deadlines`` sample deadlines on a
manual clock, then:

1. a whole pass of steps while nothing is old enough (the routine case: what
   an idle scheduler pays every ``REMINDERS_RETENTION_SWEEP_S``);
2. every deadline cancelled, the clock moved 100 days on, and a pass of steps
   that purges them all: step times and purges per second;
3. a recount after the purge, which must find no difference.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import time
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet

from demo.redis_server import RedisServer
from demo.sample import register_agencies, sample_deadlines
from reminders import ManualClock
from reminders.retention import Retention
from reminders.settings import Settings
from reminders.wiring import build_core


def steps(retention: Retention) -> tuple[list[float], int]:
    """Step times (ms) of one whole pass, and what it purged."""
    times: list[float] = []
    purged = 0
    while True:
        started = time.perf_counter()
        result = retention.step()
        times.append((time.perf_counter() - started) * 1000)
        purged += result.purged
        if result.complete:
            return times, purged


def figures(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "steps": len(times),
        "step_ms_median": round(statistics.median(ordered), 2),
        "step_ms_p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
        "pass_s": round(sum(times) / 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deadlines", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    now = datetime.now(UTC).replace(microsecond=0)
    clock = ManualClock(now)
    with RedisServer() as server:
        settings = Settings(
            _env_file=None,
            redis_url=server.url,
            key_prefix="bench:",
            encryption_keys=Fernet.generate_key().decode(),
            hash_key=secrets.token_urlsafe(32),
        )
        core = build_core(settings, clock=clock)
        service = core.service
        register_agencies(service)
        items = list(sample_deadlines(args.deadlines, now=now, seed=5, horizon_days=90))
        refs = [(str(i["agency"]), str(i["ref"])) for i in items]
        for offset in range(0, len(items), 5000):
            service.register_many(items[offset : offset + 5000])
        retention = core.retention(batch=args.batch)

        idle, nothing = steps(retention)
        assert nothing == 0

        started = time.perf_counter()
        for agency, ref in refs:
            service.cancel(agency, ref)
        cancel_s = time.perf_counter() - started
        clock.advance(timedelta(days=100))
        busy, purged = steps(retention)
        differences = service.recount()
        core.close()

    busy_figures = figures(busy)
    print(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "deadlines": args.deadlines,
                "batch": args.batch,
                "nothing_to_purge": figures(idle),
                "all_purged": {
                    **busy_figures,
                    "purged": purged,
                    "purged_per_s": round(purged / busy_figures["pass_s"]),
                },
                "cancel_per_s": round(len(refs) / cancel_s),
                "recount_differences_after_purge": len(differences),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
