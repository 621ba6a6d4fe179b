"""Agency API benchmark: the HTTP API beside the library, same machine, same run.

    python -m bench.api [--singles 2000] [--batch 10000]

Starts its own redis-server and `reminders web` (one uvicorn process), makes
an API key, and measures in one run:

- single registrations: ``PUT /v1/agencies/saaq/deadlines/{ref}`` one after
  another on one keep-alive connection (calls/s, p50 and p99 latency), beside
  ``svc.register`` in this process on the same Redis (calls/s);
- batches: ``POST .../deadlines/batch`` of ``--batch`` deadlines (deadlines/s),
  beside ``svc.register_many`` of as many plain dicts (deadlines/s).

Prints one JSON document with each figure and its ratio to the library's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from demo.redis_server import RedisServer
from demo.sample import register_agencies
from reminders.models import Deadline
from reminders.wiring import build_core

from .web_process import running_web, web_setup


def body(i: int, due: datetime) -> dict[str, Any]:
    return {
        "due": due.isoformat(),
        "title": {"fr": "Renouveler votre permis", "en": "Renew your licence"},
        "citizen": {
            "phone": f"+1514555{i % 10_000:04d}",
            "email": f"c{i}@example.ca",
            "locale": "fr",
            "timezone": "America/Toronto",
        },
        "channels": ["sms", "email"],
        "offsets": ["30d", "7d", "1d"],
    }


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--singles", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args()
    due = datetime.now(UTC).replace(microsecond=0) + timedelta(days=60)
    with RedisServer() as server:
        setup = web_setup(
            server.url, REMINDERS_API_RATE_PER_S="100000", REMINDERS_API_BURST="1000000"
        )
        core = build_core(setup.settings)
        register_agencies(core.service)
        _, key = core.api_keys.create("saaq", "bench")
        service = core.service

        singles = [
            Deadline.model_validate({"agency": "saaq", "ref": f"lib-{i}", **body(i, due)})
            for i in range(args.singles)
        ]
        started = time.perf_counter()
        for deadline in singles:
            service.register(deadline)
        library_single = args.singles / (time.perf_counter() - started)
        dicts = [{"agency": "saaq", "ref": f"libm-{i}", **body(i, due)} for i in range(args.batch)]
        started = time.perf_counter()
        service.register_many(dicts)
        library_batch = args.batch / (time.perf_counter() - started)

        try:
            with (
                running_web(setup) as base,
                httpx.Client(base_url=base, headers={"Authorization": f"Bearer {key}"}) as http,
            ):
                latencies: list[float] = []
                started = time.perf_counter()
                for i in range(args.singles):
                    sent = time.perf_counter()
                    answer = http.put(f"/v1/agencies/saaq/deadlines/api-{i}", json=body(i, due))
                    latencies.append((time.perf_counter() - sent) * 1000)
                    if answer.status_code != 201:
                        raise RuntimeError(
                            f"PUT answered {answer.status_code}: {answer.text[:200]}"
                        )
                api_single = args.singles / (time.perf_counter() - started)
                items = [{"ref": f"apib-{i}", **body(i, due)} for i in range(args.batch)]
                started = time.perf_counter()
                answer = http.post("/v1/agencies/saaq/deadlines/batch", json=items, timeout=600)
                api_batch = args.batch / (time.perf_counter() - started)
                if answer.status_code != 200 or answer.json()["accepted"] != args.batch:
                    raise RuntimeError(f"batch answered {answer.status_code}: {answer.text[:200]}")
        finally:
            core.close()
    figures = {
        "library_register_per_s": round(library_single),
        "api_put_per_s": round(api_single),
        "api_put_over_library": round(api_single / library_single, 2),
        "api_put_p50_ms": round(statistics.median(latencies), 2),
        "api_put_p99_ms": round(percentile(latencies, 0.99), 2),
        "library_register_many_per_s": round(library_batch),
        "api_batch_deadlines_per_s": round(api_batch),
        "api_batch_over_library": round(api_batch / library_batch, 2),
        "batch_size": args.batch,
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
