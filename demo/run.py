"""The demo run: register a sample, fast-forward the schedule, report coverage.

1. A private Redis (unless ``REMINDERS_REDIS_URL`` is set), fresh keys, the sandbox
   provider; a few citizens opted out beforehand.
2. A sample from :mod:`demo.sample`: three agencies, deadlines over the
   coming months, some citizens without a phone or an email, some of the
   sandbox's magic recipients that fail.
3. The real scheduler and a real Dramatiq worker on a manual clock, step by
   step through every due time; meanwhile some citizens do what they were
   reminded of (the agency marks the deadline completed), a few before any
   reminder, and agencies withdraw a few deadlines.
4. The retention purge at the end of the period (contact data of deadlines
   closed for longer than the retention goes), the coverage table against the
   target, a recount that must agree with the counters, and a standalone HTML
   report (the staff dashboard as a file).

Nothing is left running: the worker threads stop, the Redis server stops,
and with ``REMINDERS_REDIS_URL`` the demo's keys are deleted.
"""

from __future__ import annotations

import contextlib
import logging
import random
import secrets
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from demo.redis_server import RedisServer
from demo.sample import (
    MAGIC_EMAIL_LOCALS,
    MAGIC_PHONE_ENDINGS,
    NAMES,
    register_agencies,
    sample_deadlines,
)
from reminders.clock import ManualClock
from reminders.coverage import CoverageReport
from reminders.coverage_view import as_table, percent
from reminders.errors import ReminderError
from reminders.service import ReminderService
from reminders.settings import Settings
from reminders.wiring import connect, redis_client
from web.dashboard import report_files
from workers.app import build_scheduler, build_worker
from workers.fastforward import FastForward

COMPLETE_AFTER_REMINDER = 0.30
"""Share of citizens who act once reminded (the agency then completes it)."""
COMPLETE_EARLY = 0.05
"""Share who act before any reminder."""
WITHDRAWN = 0.02
OPTED_OUT = 0.04


@dataclass(frozen=True, slots=True)
class DemoResult:
    report: CoverageReport
    registered: int
    released: int
    recount_differences: int
    purged: int
    report_file: Path
    seconds: float


def run_demo(
    console: Console,
    *,
    deadlines: int = 2400,
    seed: int = 7,
    horizon_days: int = 90,
    redis_url: str | None = None,
    report_file: Path = Path("reminders-demo-report.html"),
) -> DemoResult:
    started = time.monotonic()
    rng = random.Random(seed)
    # Per-send log lines (failures of the magic recipients) would drown the
    # progress display; the figures below say the same.
    for name in ("reminders", "channels", "workers", "web", "dramatiq"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with ExitStack() as stack:
        shared = redis_url is not None
        if redis_url is None:
            console.print("Starting a private Redis server…")
            redis_url = stack.enter_context(RedisServer()).url
        start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        clock = ManualClock(start)
        settings = Settings(
            _env_file=None,
            redis_url=redis_url,
            key_prefix=f"demo-{secrets.token_hex(4)}:",
            provider="sandbox",
            encryption_keys=Fernet.generate_key().decode(),
            hash_key=secrets.token_urlsafe(32),
            signing_key=secrets.token_urlsafe(32),
            sandbox_receipt_delay_s=0.0,
            sandbox_rate_per_s=0,
        )
        client = redis_client(settings)
        stack.callback(client.close)
        if shared:  # someone else's Redis: leave it as we found it
            stack.callback(_delete_keys, client, settings.key_prefix)
        service = connect(settings, client=client, clock=clock)
        register_agencies(service)

        items = list(sample_deadlines(deadlines, now=start, seed=seed, horizon_days=horizon_days))
        # Some citizens stopped every reminder before their agency registered them.
        for item in items:
            if rng.random() < OPTED_OUT and not _magic(item["citizen"]):
                contact = item["citizen"]
                for channel, key in (("sms", "phone"), ("email", "email")):
                    if contact.get(key):
                        service.opt_out(channel, contact[key])
        with _progress(console) as bar:
            task = bar.add_task("Registering deadlines", total=len(items))
            results = []
            for offset in range(0, len(items), 500):
                results.extend(service.register_many(items[offset : offset + 500]))
                bar.update(task, completed=len(results))
        registered = sum(1 for r in results if r.ok)
        # What citizens and agencies will do, decided up front (reproducible):
        # some act a day after their first reminder, if it reached them.
        early: list[tuple[str, str]] = []
        withdrawn: list[tuple[str, str]] = []
        acts: list[tuple[datetime, str, str]] = []
        for item, result in zip(items, results, strict=True):
            if result.receipt is None:
                continue
            pair = (item["agency"], item["ref"])
            roll = rng.random()
            sends = [r.send_at for r in result.receipt.reminders if r.kind != "invite"]
            if roll < COMPLETE_EARLY:
                early.append(pair)
            elif roll < COMPLETE_EARLY + WITHDRAWN:
                withdrawn.append(pair)
            elif sends and rng.random() < COMPLETE_AFTER_REMINDER:
                acts.append((min(sends) + timedelta(days=1), *pair))
        acts.sort(reverse=True)
        for agency, ref in early:
            service.complete(agency, ref)
        for agency, ref in withdrawn:
            service.cancel(agency, ref)

        worker = build_worker(settings, clock=clock, client=client)
        scheduler = build_scheduler(settings, clock=clock, client=client, broker=worker.broker)
        run = FastForward(worker, scheduler, clock, threads=8, window=timedelta(hours=2))
        stack.callback(run.close)
        end = max(_due_of(item["due"]) for item in items) + timedelta(
            seconds=settings.no_receipt_after_s + 3600
        )
        days = (end - start).days + 1

        with _progress(console) as bar:
            task = bar.add_task("Fast-forwarding (days)", total=days)

            def on_step(now: datetime) -> None:
                while acts and acts[-1][0] <= now:
                    _, agency, ref = acts.pop()
                    _act(service, agency, ref)
                bar.update(
                    task,
                    completed=(now - start).days,
                    description=f"Fast-forwarding to {now:%Y-%m-%d}, {run.released:,} released",
                )

            run.run_until(end, on_step)
            bar.update(task, completed=days)

        purge = service.purge()
        report = service.coverage()
        differences = service.recount()
        names = {slug: {"fr": fr, "en": en} for slug, (fr, en) in NAMES.items()}
        report_file = report_files(service, report_file.parent, report_file.stem, names)

        console.print()
        console.print(as_table(report, "agency"))
        console.print(as_table(report, "reason").renderables[1])
        console.print(as_table(report, "month").renderables[1])
        console.print(as_table(report, "channel").renderables[1])
        summary = Table.grid(padding=(0, 2))
        summary.add_row("deadlines registered", f"{registered:,}")
        summary.add_row("reminders and receipt checks released", f"{run.released:,}")
        summary.add_row("simulated period", f"{start:%Y-%m-%d} → {end:%Y-%m-%d}")
        summary.add_row(
            "contact data purged",
            f"{purge.purged:,} deadlines past retention",
        )
        summary.add_row(
            "counters vs recount from records",
            "agree" if not differences else f"{len(differences)} differences",
        )
        summary.add_row("coverage", f"{percent(report.rate)} (target {report.target:.0%})")
        summary.add_row("dashboard as a file", str(report_file.resolve()))
        console.print(summary)
        console.print(
            "Live dashboard: `reminders staff add all`, run `reminders web`, "
            "open http://127.0.0.1:8000/dashboard"
        )
        return DemoResult(
            report=report,
            registered=registered,
            released=run.released,
            recount_differences=len(differences),
            purged=purge.purged,
            report_file=report_file,
            seconds=time.monotonic() - started,
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _act(service: ReminderService, agency: str, ref: str) -> None:
    """A citizen who got a reminder does it; the agency marks it completed."""
    view = service.get(agency, ref)
    if view.status == "active" and any(r.state == "delivered" for r in view.reminders):
        with contextlib.suppress(ReminderError):  # e.g. already past due
            service.complete(agency, ref)


def _magic(citizen: dict[str, str]) -> bool:
    """The sandbox's magic recipients are shared by many sample citizens."""
    phone, email = citizen.get("phone") or "", citizen.get("email") or ""
    return phone[-4:] in MAGIC_PHONE_ENDINGS or email.split("@")[0] in MAGIC_EMAIL_LOCALS


def _due_of(text: str) -> datetime:
    if "T" in text:
        return datetime.fromisoformat(text).astimezone(UTC)
    return datetime.fromisoformat(text).replace(tzinfo=UTC) + timedelta(days=1, hours=8)


def _delete_keys(client: object, prefix: str) -> None:
    import redis

    assert isinstance(client, redis.Redis)
    names = list(client.scan_iter(match=f"{prefix}*", count=1000))
    for offset in range(0, len(names), 1000):
        client.delete(*names[offset : offset + 1000])


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
