"""Registration benchmark: prints one JSON document of figures.

    python -m bench.register [--deadlines 100000] [--singles 5000]

Starts its own redis-server (or uses REDIS_URL). Each deadline has 3
reminders (offsets 30d, 7d, 1d on SMS, email as fallback). Measures:

- ``register`` calls per second (one client thread, Deadline objects built
  beforehand, as an agency system holding them would);
- ``register_many`` deadlines per second in batches of 10,000, from plain
  dicts (validation included) and from Deadline objects;
- Redis memory per registered deadline: INFO used_memory before and after
  registering ``--deadlines`` of them, with the share of each structure;
- Redis commands per registration (INFO commandstats, commands run inside
  scripts included) and client round trips per registration.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import redis
from cryptography.fernet import Fernet

from demo.redis_server import RedisServer
from demo.sample import register_agencies
from reminders import Deadline, ManualClock, ReminderService, connect
from reminders.redis.keys import Keys

NOW = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def items(prefix: str, count: int) -> Iterator[dict[str, Any]]:
    for i in range(count):
        yield {
            "agency": ("saaq", "revenu")[i % 2],
            "ref": f"{prefix}-{i:07d}",
            "due": (NOW + timedelta(days=60, minutes=7 * i)).isoformat(),
            "title": {"fr": "Renouveler votre permis", "en": "Renew your licence"},
            "action_url": "https://example.gouv.qc.ca/renew",
            "citizen": {
                "phone": f"+1514555{1000 + i % 8999:04d}",
                "email": f"citoyen{i}@example.ca",
                "locale": "fr",
                "timezone": "America/Toronto",
            },
            "channels": ["sms", "email"],
            "offsets": ["30d", "7d", "1d"],
        }


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])


def total_calls(client: redis.Redis) -> int:
    stats = client.info("commandstats")
    return sum(
        int(v["calls"]) for k, v in stats.items() if k not in ("cmdstat_info", "cmdstat_config")
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--deadlines", type=int, default=100_000)
    parser.add_argument("--singles", type=int, default=5_000)
    args = parser.parse_args()
    with ExitStack() as stack:
        url = os.environ.get("REDIS_URL") or stack.enter_context(RedisServer()).url
        client = redis.Redis.from_url(url)
        service_prefix = f"bench{secrets.token_hex(3)}:"
        service: ReminderService = connect(
            redis_url=url,
            key_prefix=service_prefix,
            encryption_keys=Fernet.generate_key().decode(),
            hash_key=secrets.token_urlsafe(32),
            clock=ManualClock(NOW),
            client=client,
        )
        register_agencies(service)
        figures: dict[str, Any] = {}

        singles = [Deadline.model_validate(d) for d in items("single", args.singles)]
        started = time.perf_counter()
        for deadline in singles:
            service.register(deadline)
        figures["register_per_s"] = round(args.singles / (time.perf_counter() - started))

        again = time.perf_counter()
        for deadline in singles[:2000]:
            service.register(deadline)
        figures["register_unchanged_per_s"] = round(2000 / (time.perf_counter() - again))

        client.config_resetstat()
        for deadline in (Deadline.model_validate(d) for d in items("cmd", 1000)):
            service.register(deadline)
        figures["redis_commands_per_register"] = round(total_calls(client) / 1000, 2)
        figures["round_trips_per_register"] = 2

        validate_started = time.perf_counter()
        objects = [Deadline.model_validate(d) for d in items("obj", 10_000)]
        figures["validate_per_s"] = round(10_000 / (time.perf_counter() - validate_started))
        started = time.perf_counter()
        results = service.register_many(objects)
        assert all(r.ok for r in results)
        figures["register_many_objects_per_s"] = round(10_000 / (time.perf_counter() - started))

        dicts = list(items("dict", 10_000))
        started = time.perf_counter()
        results = service.register_many(dicts)
        assert all(r.ok for r in results)
        figures["register_many_dicts_per_s"] = round(10_000 / (time.perf_counter() - started))

        client.flushdb()
        register_agencies(service)  # the flush took the registry too
        before = used_memory(client)
        batch: list[dict[str, Any]] = []
        for data in items("mem", args.deadlines):
            batch.append(data)
            if len(batch) == 10_000:
                service.register_many(batch)
                batch = []
        if batch:
            service.register_many(batch)
        after = used_memory(client)
        keys = Keys(service_prefix)
        sample = client.scan_iter(match=keys.deadline_pattern(0), count=10)
        doc_key = next(iter(sample))
        figures["deadlines_for_memory"] = args.deadlines
        figures["redis_bytes_per_deadline"] = round((after - before) / args.deadlines)
        figures["bytes_per_deadline_document"] = client.memory_usage(doc_key, samples=0)
        figures["bytes_per_deadline_schedule"] = round(
            int(client.memory_usage(keys.schedule(0), samples=0) or 0) / args.deadlines
        )
        figures["bytes_per_deadline_audit"] = round(
            int(client.memory_usage(keys.audit(0), samples=0) or 0) / args.deadlines
        )
        figures["schedule_entries_per_deadline"] = round(
            int(client.zcard(keys.schedule(0))) / args.deadlines, 2
        )
        info = client.info("server")
        figures["redis_version"] = info["redis_version"]
        print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
