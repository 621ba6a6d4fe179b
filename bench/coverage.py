"""Coverage benchmark: report time from the counters, recount from the records.

    python -m bench.coverage [--deadlines 1000000] [--recount 100000]

Starts its own redis-server. Figures:

1. report time (``svc.coverage()``, median of 30 reads, and for one agency)
   with the counters of ``--deadlines`` deadlines across 20 agencies and 24
   due months, in ``--shards`` shards (64, a cluster's default: a report
   reads and adds up every shard's). The counters are the tallies of that many simulated
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


def simulated_fields(count: int, shards: int, seed: int = 1) -> list[dict[str, int]]:
    """Each shard's counter fields after ``count`` simulated deadlines, in
    the form the writes keep them (``reminders.coverage.tally``): every
    deadline under ``all``, and under its outcome unless it is pending; its
    reminder under ``out`` and, when it was delivered, ``delivered``."""
    rng = random.Random(seed)
    agencies = [f"agency-{n:02d}" for n in range(20)]
    months = [f"{2025 + m // 12}-{m % 12 + 1:02d}" for m in range(24)]
    fields: list[Counter[str]] = [Counter() for _ in range(shards)]
    for _ in range(count):
        counts = fields[rng.randrange(shards)]
        head = f"{rng.choice(agencies)}|{rng.choice(months)}"
        result = rng.choice(OUTCOMES)
        channel = rng.choice(("sms", "email", "calendar")) if result == "covered" else "-"
        counts[f"d|{head}|all|-"] += 1
        if result != "pending":
            counts[f"d|{head}|{result}|{channel}"] += 1
        sent_on = channel if result == "covered" else rng.choice(("sms", "email"))
        counts[f"r|{head}|{sent_on}|out"] += 1
        if result == "covered":
            counts[f"r|{head}|{sent_on}|delivered"] += 1
    return [dict(c) for c in fields]


def stored_fields(core: Core) -> int:
    """Hash fields a report reads: every shard's packed and plain counters."""
    keys, client = core.store.keys, core.store.client
    names = [
        k(shard) for shard in range(keys.shards) for k in (keys.coverage_packed, keys.coverage)
    ]
    return sum(int(client.hlen(name)) for name in names)


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
    parser.add_argument(
        "--shards", type=int, default=64, help="of the simulated counters (a cluster's default)"
    )
    args = parser.parse_args()
    with RedisServer() as server:

        def service(prefix: str, shards: int | None = None) -> Core:
            core = build_core(
                Settings(
                    _env_file=None,
                    redis_url=server.url,
                    key_prefix=prefix,
                    shards=shards,
                    encryption_keys=Fernet.generate_key().decode(),
                    hash_key=secrets.token_urlsafe(32),
                )
            )
            register_agencies(core.service)
            return core

        big_core = service("big:", args.shards)
        big = big_core.service
        by_shard = simulated_fields(args.deadlines, args.shards)
        for shard, fields in enumerate(by_shard):
            big_core.store.replace_coverage(shard, fields)
        report = big.coverage()
        if report.in_scope + report.withdrawn != args.deadlines:
            raise RuntimeError(
                f"the report counts {report.in_scope + report.withdrawn} deadlines, "
                f"not the {args.deadlines} simulated: the simulation no longer "
                "matches the counters' form (reminders.coverage.tally)"
            )
        simulated = {
            "deadlines": args.deadlines,
            "shards": args.shards,
            "counters_by_name": sum(len(fields) for fields in by_shard),
            "stored_fields": stored_fields(big_core),
            "counters_summed": len(big_core.store.coverage_fields()),
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
            "counters_summed": len(real_core.store.coverage_fields()),
            "stored_fields": stored_fields(real_core),
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
