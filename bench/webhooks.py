"""Webhook benchmark: a burst of Twilio status callbacks into `reminders web`.

    python -m bench.webhooks [--reminders 5000] [--concurrency 8]

Starts its own redis-server and the web app under uvicorn in its own process
(as `reminders web` runs it), registers ``--reminders`` deadlines whose SMS
reminder is marked sent, then a second process posts four signed callbacks
per reminder (queued, sent, delivered, and a duplicate delivered), in a
shuffled order so some arrive out of order. Prints requests/s and p50/p99
latency, and checks that every reminder ended delivered.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from demo.redis_server import RedisServer
from demo.sample import register_agencies
from reminders.ids import reminder_id
from reminders.redis.store import Write
from reminders.wiring import Core, build_core

from .web_process import ROOT, running_web, web_setup


def sent_reminders(core: Core, count: int) -> list[tuple[str, str]]:
    """Register ``count`` SMS deadlines and mark each one's first reminder as
    sent with a message SID, as a worker would; returns (reminder id, SID)."""
    service, store = core.service, core.store
    register_agencies(service)
    due = service.clock.now() + timedelta(days=30)
    items = [
        {
            "agency": "bench",
            "ref": f"hook-{n}",
            "due": due.isoformat(),
            "title": {"fr": "Renouveler", "en": "Renew"},
            "citizen": {"phone": f"+1514555{n % 10_000:04d}", "locale": "fr"},
            "channels": ["sms"],
            "offsets": ["7d"],
        }
        for n in range(count)
    ]
    results = service.register_many(items)
    refused = [r for r in results if not r.ok]
    if refused:
        raise RuntimeError(f"{len(refused)} registrations refused: {refused[0]}")
    pairs: list[tuple[str, str]] = []
    writes: list[Write] = []
    now = int(service.clock.now().timestamp())
    for result in results:
        assert result.receipt is not None
        rid = result.receipt.reminders[0].id
        tag, _, seq = rid.rpartition("-")
        record = store.load(tag)
        assert record is not None
        updated = record.copy()
        updated.version += 1
        reminder = updated.reminder(int(seq))
        assert reminder is not None
        sid = "SM" + secrets.token_hex(16)
        reminder.state, reminder.provider_id = "sent", sid
        writes.append(Write(tag, record.version, updated, now, {}, [rid], before=record))
        pairs.append((reminder_id(tag, int(seq)), sid))
        if len(writes) >= 500:
            store.write_many(writes)
            writes = []
    store.write_many(writes)
    return pairs


def callbacks(pairs: list[tuple[str, str]], seed: int = 1) -> list[list[str]]:
    burst = [
        [rid, sid, status]
        for rid, sid in pairs
        for status in ("queued", "sent", "delivered", "delivered")
    ]
    random.Random(seed).shuffle(burst)
    return burst


def blast(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the load generator in its own process."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    try:
        out = subprocess.run(
            [sys.executable, "-m", "bench.webhook_load", handle.name],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
            timeout=1800,
        )
    finally:
        os.unlink(handle.name)
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reminders", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    token = secrets.token_hex(16)
    with RedisServer() as server:
        setup = web_setup(server.url, REMINDERS_TWILIO_AUTH_TOKEN=token)
        settings = setup.settings
        core = build_core(settings)
        register_agencies(core.service)
        started = time.perf_counter()
        pairs = sent_reminders(core, args.reminders)
        setup_s = time.perf_counter() - started
        with running_web(setup) as url:
            spec = {
                "base_url": url,
                "public_url": settings.public_url,
                "auth_token": token,
                "concurrency": args.concurrency,
                "callbacks": callbacks(pairs),
            }
            result = blast(spec)
        delivered = sum(
            1
            for rid, _ in pairs
            if (record := core.store.load(rid.rpartition("-")[0])) is not None
            and record.reminders[0].state == "delivered"
        )
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "reminders": args.reminders,
        "setup_s": round(setup_s, 2),
        "webhook_burst": result,
        "delivered": delivered,
        "lost": args.reminders - delivered,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
