"""One logging set-up: timestamped text lines, or JSON objects."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reminders.logs import (
    BatchingHandler,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    flush_logging,
)


@pytest.fixture
def restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_text_lines_carry_utc_time_level_and_logger(restored: None) -> None:
    out = io.StringIO()
    configure_logging("text", "INFO", stream=out)
    logging.getLogger("reminders.dispatch").info("sent reminder=%s", "abc-1")
    logging.getLogger("reminders.dispatch").debug("not at INFO")
    flush_logging()
    (line,) = out.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO reminders\.dispatch sent reminder=abc-1", line
    )


def test_json_lines_and_calling_again_replaces_the_handler(restored: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("text", stream=first)
    configure_logging("json", "WARNING", stream=second)
    logging.getLogger("web.app").warning("redis unavailable on %s", "/metrics")
    flush_logging()
    assert first.getvalue() == ""
    entry = json.loads(second.getvalue())
    assert entry["level"] == "WARNING" and entry["logger"] == "web.app"
    assert entry["message"] == "redis unavailable on /metrics"
    assert entry["ts"].endswith("+00:00")


def _record(created: float) -> logging.LogRecord:
    record = logging.LogRecord(
        "reminders.dispatch", logging.INFO, "", 0, "sent reminder=%s", ("x-1",), None
    )
    record.created = created
    record.msecs = int((created - int(created)) * 1000) + 0.0
    return record


def test_lines_are_stamped_as_logging_itself_would_across_seconds() -> None:
    """The stamp is formatted once per second: lines on either side of a
    second (and of a month and a year) still carry their own time."""
    oracle = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    oracle.converter = time.gmtime
    text, as_json = TextFormatter(), JsonFormatter()
    times = [1_798_761_599.998, 1_798_761_599.999, 1_798_761_600.0, 1_798_761_600.5]
    times += [1_764_547_199.75, 1_764_547_200.001, 1_764_547_200.001, 1_764_547_201.25]
    for created in times:
        record = _record(created)
        assert text.format(record) == oracle.format(record)
        entry = json.loads(as_json.format(record))
        stamped = datetime.fromisoformat(entry["ts"])
        assert stamped.tzinfo == UTC
        assert 0 <= created - stamped.timestamp() < 0.001  # to the millisecond, truncated
        assert entry["pid"] == os.getpid()


def test_an_exception_follows_its_line(restored: None) -> None:
    out = io.StringIO()
    configure_logging("text", stream=out)
    try:
        raise ValueError("no such reminder")
    except ValueError:
        logging.getLogger("reminders.dispatch").exception("send raised reminder=%s", "abc-1")
    flush_logging()
    first, *rest = out.getvalue().splitlines()
    assert first.endswith("ERROR reminders.dispatch send raised reminder=abc-1")
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "ValueError: no such reminder"


class _CountingStream(io.StringIO):
    """Counts the writes it is given."""

    writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


def test_lines_from_many_threads_arrive_each_once_in_order_in_few_writes(restored: None) -> None:
    out = _CountingStream()
    configure_logging("text", stream=out, batch_s=0.1)
    log = logging.getLogger("reminders.dispatch")

    def lines(thread: int) -> None:
        for n in range(250):
            log.info("sent reminder=t%d-%d", thread, n)

    workers = [threading.Thread(target=lines, args=(t,)) for t in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    # Written by the handler's own thread, without anyone flushing.
    deadline = time.monotonic() + 30
    while out.getvalue().count("\n") < 2000 and time.monotonic() < deadline:
        time.sleep(0.01)
    written = re.findall(r"reminder=t(\d)-(\d+)$", out.getvalue(), re.MULTILINE)
    assert len(written) == 2000
    for thread in range(8):
        assert [int(n) for t, n in written if int(t) == thread] == list(range(250))
    assert out.writes < 100  # 2,000 lines, a handful of writes


def test_an_error_is_written_at_once_with_the_lines_before_it(restored: None) -> None:
    out = io.StringIO()
    configure_logging("text", stream=out, batch_s=3600.0)  # the writer thread stays out of it
    log = logging.getLogger("reminders.dispatch")
    log.info("retry reminder=a-1")
    log.error("send raised reminder=a-2")
    assert [line.split(" ", 2)[1:] for line in out.getvalue().splitlines()] == [
        ["INFO", "reminders.dispatch retry reminder=a-1"],
        ["ERROR", "reminders.dispatch send raised reminder=a-2"],
    ]


def test_a_forked_child_writes_its_own_lines_and_not_its_parents(
    restored: None, tmp_path: Path
) -> None:
    path = tmp_path / "log"
    with path.open("a", buffering=1) as stream:
        configure_logging("text", stream=stream, batch_s=0.05)
        handler = logging.getLogger().handlers[-1]
        assert isinstance(handler, BatchingHandler)
        log = logging.getLogger("reminders.worker")
        with handler._write_lock:  # holds the parent's writer back: the line stays queued
            log.info("parent before fork")
            pid = os.fork()
            if pid == 0:  # the child's own writer thread writes its line
                try:
                    log.info("child line")
                    deadline = time.monotonic() + 30
                    while "child line" not in path.read_text() and time.monotonic() < deadline:
                        time.sleep(0.01)
                finally:
                    os._exit(0)
        os.waitpid(pid, 0)
        flush_logging()
    lines = [line.split(" ", 3)[3] for line in path.read_text().splitlines()]
    assert sorted(lines) == ["child line", "parent before fork"]
