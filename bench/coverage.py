"""Coverage benchmark: report time from the counters, recount from the records.

    python -m bench.coverage [--deadlines 1000000] [--recount 100000]

Starts its own redis-server. Figures:

1. report time (``svc.coverage()``, median of 30 reads, and for one agency)
   with the counters of ``--deadlines`` deadlines across 20 agencies and 24
   due months. The counter fields are the tallies of that many simulated
   outcomes (agency, month, outcome, covering channel, reminder states), as
   the writes would have left them; registering a million deadlines would
   take minutes and change nothing in what a report reads;
2. the same report with ``--recount`` deadlines really registered (and their
   counters kept by the writes), and the recount of those documents.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import time
from collections import Counter
from datetime import UTC, datetime

from cryptography.fernet import Fernet

from demo.redis_server import RedisServer
from demo.sample import register_agencies, sample_deadlines
from reminders.coverage import REASONS
from reminders.settings import Settings
from reminders.wiring import Core, build_core

OUTCOMES = ["covered"] * 12 + list(REASONS) + ["withdrawn"]


def simulated_fields(count: int, seed: int = 1) -> dict[str, int]:
    rng = random.Random(seed)
    agencies = [f"agency-{n:02d}" for n in range(20)]
    months = [f"{2025 + m // 12}-{m % 12 + 1:02d}" for m in range(24)]
    fields: Counter[str] = Counter()
    for _ in range(count):
        agency, month = rng.choice(agencies), rng.choice(months)
        result = rng.choice(OUTCOMES)
        channel = rng.choice(("sms", "email", "calendar")) if result == "covered" else "-"
        fields[f"d|{agency}|{month}|{result}|{channel}"] += 1
        fields[f"r|{agency}|{month}|{rng.choice(('sms', 'email'))}|delivered"] += 1
    return dict(fields)


def timed(call: object, runs: int = 30) -> float:
    assert callable(call)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples) * 1000, 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deadlines", type=int, default=1_000_000)
    parser.add_argument("--recount", type=int, default=100_000)
    args = parser.parse_args()
    with RedisServer() as server:

        def service(prefix: str) -> Core:
            core = build_core(
                Settings(
                    _env_file=None,
                    redis_url=server.url,
                    key_prefix=prefix,
                    encryption_keys=Fernet.generate_key().decode(),
                    hash_key=secrets.token_urlsafe(32),
                )
            )
            register_agencies(core.service)
            return core

        big_core = service("big:")
        big = big_core.service
        fields = simulated_fields(args.deadlines)
        big_core.store.replace_coverage(0, fields)
        report = big.coverage()
        assert report.in_scope + report.withdrawn == args.deadlines
        simulated = {
            "deadlines": args.deadlines,
            "counter_fields": len(fields),
            "report_ms_median": timed(big.coverage),
            "report_one_agency_ms_median": timed(lambda: big.coverage(agency="agency-07")),
        }

        real_core = service("real:")
        real = real_core.service
        now = datetime.now(UTC)
        items = list(sample_deadlines(args.recount, now=now, seed=3, horizon_days=700))
        started = time.perf_counter()
        for offset in range(0, len(items), 5000):
            real.register_many(items[offset : offset + 5000])
        register_s = time.perf_counter() - started
        started = time.perf_counter()
        differences = real.recount()
        recount_s = time.perf_counter() - started
        registered = {
            "deadlines": args.recount,
            "register_s": round(register_s, 1),
            "counter_fields": len(real_core.store.coverage_fields()),
            "report_ms_median": timed(real.coverage),
            "recount_s": round(recount_s, 2),
            "recount_deadlines_per_s": round(args.recount / recount_s),
            "recount_differences": len(differences),
        }
    print(
        json.dumps(
            {
                "when": datetime.now(UTC).isoformat(timespec="seconds"),
                "simulated_counters": simulated,
                "registered": registered,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
