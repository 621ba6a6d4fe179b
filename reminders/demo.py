"""``reminders demo``: the registry and planner on a realistic sample."""

from __future__ import annotations

import secrets
from collections import Counter
from contextlib import ExitStack
from datetime import UTC, datetime

from cryptography.fernet import Fernet
from rich.console import Console
from rich.table import Table

from .clock import ManualClock
from .redis_server import RedisServer
from .sample import sample_deadlines
from .wiring import connect


def run_demo(console: Console, *, deadlines: int, seed: int, redis_url: str | None) -> None:
    """Register ``deadlines`` sample deadlines and print what was planned."""
    with ExitStack() as stack:
        if redis_url is None:
            console.print("starting a private Redis server …")
            server = stack.enter_context(RedisServer())
            redis_url = server.url
        prefix = f"demo-{secrets.token_hex(4)}:"
        clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
        service = connect(
            redis_url=redis_url,
            key_prefix=prefix,
            encryption_keys=Fernet.generate_key().decode(),
            hash_key=secrets.token_urlsafe(32),
            clock=clock,
        )
        stack.callback(service.store.client.close)
        # A few citizens stopped SMS before their agency registered them.
        for ending in ("1003", "1010"):
            service.opt_out("sms", f"+1514555{ending}")
        items = list(sample_deadlines(deadlines, now=clock.now(), seed=seed))
        results = service.register_many(items)
        refused = [r for r in results if not r.ok]
        by_channel: Counter[tuple[str, str]] = Counter()
        no_reminder: Counter[str] = Counter()
        for item, result in zip(items, results, strict=True):
            if result.receipt is None:
                continue
            if not result.receipt.reminders:
                no_reminder[item["agency"]] += 1
            for reminder in result.receipt.reminders:
                by_channel[(item["agency"], reminder.channel)] += 1

        table = Table(
            title=f"{len(results) - len(refused)} deadlines registered, reminders planned"
        )
        table.add_column("agency")
        for channel in ("sms", "email", "calendar"):
            table.add_column(channel, justify="right")
        table.add_column("deadlines with none", justify="right")
        for agency in sorted({a for a, _ in by_channel} | set(no_reminder)):
            table.add_row(
                agency,
                *(str(by_channel[(agency, c)]) for c in ("sms", "email", "calendar")),
                str(no_reminder[agency]),
            )
        console.print(table)

        first = items[0]
        view = service.get(first["agency"], first["ref"])
        detail = Table(title=f"plan of {view.agency}/{view.ref}, due {view.due:%Y-%m-%d %H:%M} UTC")
        for column in ("reminder", "channel", "kind", "send at (UTC)", "state"):
            detail.add_column(column)
        for reminder in view.reminders:
            detail.add_row(
                reminder.id, reminder.channel, reminder.kind,
                f"{reminder.send_at:%Y-%m-%d %H:%M}", reminder.state,
            )  # fmt: skip
        console.print(detail)
        if refused:
            console.print(f"{len(refused)} refused, e.g.: {refused[0].error}")
        console.print(
            "Sending, receipts and the coverage figure come with the scheduler, "
            "workers and coverage issues."
        )
