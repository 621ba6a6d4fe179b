"""The ``reminders`` command: the composition root of every process.

Only the commands that need the workers or channels import them, inside the
command, so the domain never depends on them.
"""

from __future__ import annotations

import codecs
import csv
import os
from collections import Counter
from contextlib import ExitStack
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import redis
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .cli_access import agencies_app, keys_app, staff_app
from .errors import ConfigurationError, ReminderError, Unavailable
from .importer import Format, HeaderError, Line, detect_format, read_lines

app = typer.Typer(
    help="Deadline reminders: register citizens' deadlines and remind them in time.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)
app.add_typer(agencies_app, name="agencies")
app.add_typer(keys_app, name="keys")
app.add_typer(staff_app, name="staff")


class ByChoice(StrEnum):
    agency = "agency"
    month = "month"
    channel = "channel"
    reason = "reason"


class FormatChoice(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def main() -> None:
    """Console-script entry point: a wrong setting or a Redis that does not
    answer is one line and exit 2, never a traceback."""
    from pydantic import ValidationError

    try:
        app()
    except ValidationError as err:
        bad = ", ".join(
            f"REMINDERS_{'_'.join(str(p) for p in e['loc']).upper()} ({e['msg']})"
            for e in err.errors()
        )
        err_console.print(f"[bold red]error:[/] settings refused: {bad}")
        raise SystemExit(2) from None
    except (redis.RedisError, Unavailable) as err:
        _redis_down(err)
        raise SystemExit(2) from None


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            typer.echo(f"reminders {version('deadline-reminders')}")
        except PackageNotFoundError:
            typer.echo("reminders (not installed)")
        raise typer.Exit(0)


@app.callback()
def _root(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Deadline reminders: register citizens' deadlines and remind them in time."""


def _fail(message: str, code: int = 2) -> typer.Exit:
    err_console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


def _redis_down(err: Exception) -> typer.Exit:
    """One line for a Redis that does not answer (its address without any
    password, never a traceback)."""
    from urllib.parse import urlsplit

    from .settings import Settings

    try:
        parts = urlsplit(Settings().redis_url)
        where = f"{parts.hostname}:{parts.port or 6379}" if parts.hostname else parts.path
    except Exception:  # the settings themselves are what is wrong
        where = "REMINDERS_REDIS_URL"
    return _fail(f"Redis at {where} does not answer ({type(err).__name__}); is it running?")


@app.command()
def keygen() -> None:
    """Print fresh secrets for a .env file (encryption, hashing, signing)."""
    import secrets

    from cryptography.fernet import Fernet

    typer.echo(f"REMINDERS_ENCRYPTION_KEYS={Fernet.generate_key().decode()}")
    typer.echo(f"REMINDERS_HASH_KEY={secrets.token_urlsafe(32)}")
    typer.echo(f"REMINDERS_SIGNING_KEY={secrets.token_urlsafe(32)}")
    typer.echo(f"REMINDERS_STAFF_TOKEN={secrets.token_urlsafe(24)}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="CSV or JSON Lines file of deadlines.")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv or jsonl (default: from the file name).")
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where to write refused lines (default: FILE.rejects.csv)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000)] = 500,
    encoding: Annotated[
        str,
        typer.Option(
            help="The file's encoding: utf-8-sig reads UTF-8 with or without a BOM; "
            "cp1252 for Excel's older CSV."
        ),
    ] = "utf-8-sig",
) -> None:
    """Register every deadline in FILE; refused lines go to a rejects file.

    CSV cells may be separated by commas, semicolons or tabs (told from the
    header). Exit status: 0 when every line was accepted, 1 when some were
    refused, 2 when the file (its header included) or the settings could
    not be used at all.
    """
    from . import wiring

    try:
        kind: Format = detect_format(file) if fmt is None else _format(fmt)
        codecs.lookup(encoding)
        service = wiring.connect()
        stream = file.open(encoding=encoding, newline="", errors="replace")
        total = _count_rows(file)
    except LookupError:
        raise _fail(f"--encoding: {encoding!r} is not an encoding Python knows") from None
    except (ValueError, ConfigurationError) as err:
        raise _fail(str(err)) from None
    except OSError as err:
        raise _fail(f"cannot read {file}: {err.strerror}") from None
    rejects_path = rejects or file.with_name(file.name + ".rejects.csv")
    counts: Counter[str] = Counter()
    refused: list[tuple[int, str]] = []
    progress = Progress(
        TextColumn("[bold]importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("rows"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    with ExitStack() as stack:
        stack.enter_context(stream)
        stack.enter_context(progress)
        task = progress.add_task("import", total=total)
        batch: list[Line] = []

        def flush() -> None:
            good = [line for line in batch if line.data is not None]
            results = service.register_many([line.data for line in good if line.data])
            for line, result in zip(good, results, strict=True):
                if not result.ok or result.receipt is None:
                    refused.append((line.number, result.error or "refused"))
                elif result.receipt.created:
                    counts["created"] += 1
                elif result.receipt.changed:
                    counts["updated"] += 1
                else:
                    counts["unchanged"] += 1
            refused.extend((line.number, line.error or "") for line in batch if line.data is None)
            if batch:
                progress.update(task, completed=min(batch[-1].number, total))
            batch.clear()

        try:
            for line in read_lines(stream, kind):
                batch.append(line)
                if len(batch) >= batch_size:
                    flush()
        except HeaderError as err:
            raise _fail(str(err)) from None
        flush()
    refused.sort()
    if refused:
        with rejects_path.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["line", "reason"])
            writer.writerows(refused)
    console.print(
        f"created {counts['created']}, updated {counts['updated']}, "
        f"unchanged {counts['unchanged']}, refused {len(refused)}"
    )
    if refused:
        console.print(f"refused lines and reasons: {rejects_path}")
        raise typer.Exit(1)


def _format(value: str) -> Format:
    if value == "csv":
        return "csv"
    if value == "jsonl":
        return "jsonl"
    raise ValueError("--format must be csv or jsonl")


def _count_rows(path: Path) -> int:
    """How many lines the file holds (the progress bar's total)."""
    rows = 0
    last = b"\n"
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            rows += chunk.count(b"\n")
            last = chunk[-1:]
    return rows + (last != b"\n")


@app.command()
def worker(
    processes: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 2,
    threads: Annotated[int, typer.Option(min=1, help="Threads per process.")] = 8,
    shutdown_timeout_s: Annotated[
        int, typer.Option(min=1, help="How long to let sends finish on SIGTERM.")
    ] = 30,
) -> None:
    """Run Dramatiq workers that send due reminders (stop with SIGTERM/SIGINT).

    Runs Dramatiq's own CLI on ``workers.entry:broker``. If a worker process
    dies, Dramatiq stops the others and exits non-zero: run it under a
    supervisor (systemd, Kubernetes) that restarts it.
    """
    from .settings import Settings

    settings = Settings()
    try:
        _check_worker_settings(settings)
    except ConfigurationError as err:
        raise _fail(str(err)) from None
    from dramatiq.cli import main as dramatiq_main
    from dramatiq.cli import make_argument_parser

    args = make_argument_parser().parse_args(  # type: ignore[no-untyped-call]
        [
            "workers.entry:broker",
            "--processes", str(processes),
            "--threads", str(threads),
            "--worker-shutdown-timeout", str(shutdown_timeout_s * 1000),
            "--skip-logging",
        ]
    )  # fmt: skip
    raise typer.Exit(dramatiq_main(args) or 0)  # type: ignore[no-untyped-call]


def _check_worker_settings(settings: Any) -> None:
    """Fail before forking when the worker could not start."""
    from workers.app import build_worker

    built = build_worker(settings)
    built.close()


@app.command()
def scheduler() -> None:
    """Release due reminders to the workers (stop with SIGTERM/SIGINT).

    Any number may run at once; each claims its own batches.
    """
    import signal

    from workers.app import build_scheduler

    from .logs import configure_logging
    from .settings import Settings

    settings = Settings()
    configure_logging(settings.log_format, settings.log_level)
    try:
        releaser = build_scheduler(settings)
    except ConfigurationError as err:
        raise _fail(str(err)) from None

    def stop(signum: int, frame: object) -> None:
        releaser.stopping.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        releaser.run()
    except ConfigurationError as err:
        # Set up wrong (a cluster node without REMINDERS_REDIS_CLUSTER, ...):
        # retrying cannot help, so one line and a non-zero exit.
        raise _fail(str(err)) from None


@app.command()
def coverage(
    agency: Annotated[str | None, typer.Option(help="One agency (slug).")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="First due date, YYYY-MM-DD (its month).")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--to", help="Last due date, YYYY-MM-DD (its month).")
    ] = None,
    by: Annotated[ByChoice, typer.Option(help="What the rows are.")] = ByChoice.agency,
    shape: Annotated[FormatChoice, typer.Option("--format", help="How to print.")] = (
        FormatChoice.table
    ),
    recount: Annotated[
        bool, typer.Option(help="Rebuild the figures from the records; report differences.")
    ] = False,
    fix: Annotated[bool, typer.Option(help="With --recount: write the recounted figures.")] = False,
) -> None:
    """Coverage against the target: deadlines with a reminder delivered in time."""
    import sys
    from datetime import date

    from .coverage_view import as_csv, as_table
    from .wiring import connect

    try:
        first = None if start is None else date.fromisoformat(start)
        last = None if end is None else date.fromisoformat(end)
    except ValueError:
        raise _fail("--from and --to must be dates, YYYY-MM-DD") from None
    try:
        service = connect()
        if recount:
            differences = service.recount(fix=fix)
            for name, (kept, counted) in differences.items():
                console.print(f"{name}: counters {kept}, records {counted}")
            word = "fixed" if fix else "found"
            console.print(f"recount: {len(differences)} difference(s) {word}")
            if differences and not fix:
                raise typer.Exit(1)
            return
        report = service.coverage(agency, first, last)
    except (redis.RedisError, Unavailable) as err:
        raise _redis_down(err) from None
    except ReminderError as err:
        raise _fail(str(err)) from None
    if shape is FormatChoice.json:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    elif shape is FormatChoice.csv:
        sys.stdout.write(as_csv(report, by.value))
    else:
        console.print(as_table(report, by.value))


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count what would be purged; change nothing.")
    ] = False,
) -> None:
    """Remove the contact data of deadlines closed for longer than their
    agency's retention (schedulers also do this, a little at a time)."""
    from .wiring import connect

    try:
        result = connect().purge(dry_run=dry_run)
    except (redis.RedisError, Unavailable) as err:
        raise _redis_down(err) from None
    except ReminderError as err:
        raise _fail(str(err)) from None
    verb = "would purge" if dry_run else "purged"
    console.print(
        f"scanned {result.scanned:,} deadlines; {verb} {result.purged:,}; "
        f"held {result.held:,} (a reminder still waiting or being sent)"
    )


@app.command()
def web(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    proxy_headers: Annotated[
        bool, typer.Option(help="Trust X-Forwarded-* from --forwarded-allow-ips.")
    ] = True,
) -> None:
    """Serve the webhooks, citizens' links, the dashboard and /metrics.

    Signatures are checked against REMINDERS_PUBLIC_URL, the address the
    providers see, whatever proxy sits in front.
    """
    import atexit
    import shutil
    import tempfile

    import uvicorn

    from web.entry import app_from_env

    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Counters summed over every web process at each scrape; a fresh
        # folder, so no earlier run's counts are added.
        folder = tempfile.mkdtemp(prefix="reminders-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        atexit.register(shutil.rmtree, folder, ignore_errors=True)

    from .settings import Settings

    try:
        app_from_env()  # fail here, with a clear message, on missing settings
    except ConfigurationError as err:
        raise _fail(str(err)) from None
    console.print(f"serving on http://{host}:{port}  (public URL {Settings().public_url})")
    uvicorn.run(
        "web.entry:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=proxy_headers,
        log_level="info",
        access_log=False,
    )


@app.command()
def demo(
    deadlines: Annotated[int, typer.Option(min=1, max=100_000)] = 2400,
    days: Annotated[int, typer.Option(min=1, max=730, help="Due dates spread over.")] = 90,
    seed: Annotated[int, typer.Option()] = 7,
    report: Annotated[Path, typer.Option(help="Where to write the HTML coverage report.")] = Path(
        "reminders-demo-report.html"
    ),
) -> None:
    """The whole system on a realistic sample, fast-forwarded, in under a minute.

    Starts a private Redis (unless REMINDERS_REDIS_URL is set), registers three
    agencies' deadlines, runs the real scheduler and Dramatiq worker on a
    simulated clock with the sandbox providers, and ends with the coverage
    table against the target and an HTML report. Leaves nothing running.
    """
    from demo import run_demo

    try:
        run_demo(
            console,
            deadlines=deadlines,
            seed=seed,
            horizon_days=days,
            redis_url=os.environ.get("REMINDERS_REDIS_URL"),
            report_file=report,
        )
    except ConfigurationError as err:
        raise _fail(str(err)) from None
