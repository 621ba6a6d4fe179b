"""One logging set-up for every process (worker, scheduler, web).

Each line carries a UTC timestamp, the level, the logger and the message;
``REMINDERS_LOG_FORMAT=json`` makes each line a JSON object instead, for a
log pipeline. Messages name reminders by id and addresses only masked
(``+1514•••23``): no phone number or email in clear reaches a log.

A worker writes its lines in batches (``batch_s``): each is formatted in the
thread that logs it and queued; a background thread writes what is queued
every 0.1 s in one write (an ERROR or worse at once, with what came before
it). A worker logs a line or two per reminder; a write each would cost a
system call and, with the worker's threads all busy, a switch of the
interpreter lock each time. A worker killed with SIGKILL loses at most its
last 0.1 s of lines; an orderly stop writes them all. Other processes write
each line as it comes.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
import weakref
from collections import deque
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
_MARK = "_reminders_handler"


class _Stamp:
    """The UTC time of a line to the second, formatted once per second: a
    worker logs a line or two per reminder, and ``strftime`` was a fifth of
    a line's cost."""

    def __init__(self) -> None:
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, created: float) -> str:
        second = int(created)
        last = self._last  # one tuple: threads read and replace it whole
        if last[0] != second:
            last = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._last = last
        return last[1]


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, pid (and exc)."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamp()

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": f"{self._stamp(record.created)}.{int(record.msecs):03d}+00:00",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": os.getpid(),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``2026-11-22T04:54:26.566Z INFO reminders.channels sent ...``, then
    the traceback of an exception, if any."""

    def __init__(self) -> None:
        super().__init__()
        self._stamp = _Stamp()

    def format(self, record: logging.LogRecord) -> str:
        line = (
            f"{self._stamp(record.created)}.{int(record.msecs):03d}Z "
            f"{record.levelname} {record.name} {record.getMessage()}"
        )
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line = f"{line}\n{record.exc_text}"
        if record.stack_info:
            line = f"{line}\n{self.formatStack(record.stack_info)}"
        return line


class BatchingHandler(logging.Handler):
    """Writes formatted lines to ``stream`` in batches, from its own thread,
    every ``interval_s``; a line at ERROR or above writes the batch at once."""

    def __init__(self, stream: TextIO, *, interval_s: float) -> None:
        super().__init__()
        self.stream = stream
        self.interval_s = interval_s
        self._queued: deque[str] = deque()
        self._write_lock = threading.Lock()
        self._closed = threading.Event()
        self._writer: threading.Thread | None = None
        self._start()
        ref = weakref.ref(self)
        # A forked child (a worker process) writes its own lines with its
        # own thread; the parent writes what was queued before the fork.
        os.register_at_fork(after_in_child=lambda: _restart_in_child(ref))

    def _start(self) -> None:
        self._writer = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._writer.start()

    def _run(self) -> None:
        while not self._closed.wait(self.interval_s):
            self.flush()

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: the queue takes lines from any thread.
        if not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._queued.append(self.format(record))
        except Exception:
            self.handleError(record)
            return
        if record.levelno >= logging.ERROR:
            self.flush()

    def flush(self) -> None:
        """Write every line queued so far, in order, in one write."""
        with self._write_lock:
            lines: list[str] = []
            try:
                while True:
                    lines.append(self._queued.popleft())
            except IndexError:
                pass
            if not lines:
                return
            try:
                self.stream.write("\n".join(lines) + "\n")
                self.stream.flush()
            except Exception:
                # Like logging's own handlers: say so on stderr, carry on.
                if logging.raiseExceptions:
                    sys.stderr.write(f"--- logging: {len(lines)} lines not written\n")

    def close(self) -> None:
        self._closed.set()
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout=5)
        self.flush()
        super().close()

    def _forked(self) -> None:
        self._queued.clear()
        self._write_lock = threading.Lock()
        if not self._closed.is_set():
            self._start()


def _restart_in_child(ref: weakref.ref[BatchingHandler]) -> None:
    handler = ref()
    if handler is not None:
        handler._forked()


def configure_logging(
    fmt: LogFormat = "text",
    level: str = "INFO",
    *,
    stream: TextIO | None = None,
    batch_s: float = 0.0,
) -> None:
    """Send every logger's lines at ``level`` and above to ``stream``
    (stderr), formatted as ``fmt``, in batches every ``batch_s`` when given
    (else each at once); calling it again replaces the handler."""
    # Nothing reads where a line was logged from, nor its thread's or
    # process's name: not looking them up is a third of a line's cost (the
    # logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
    out = stream or sys.stderr
    handler = (
        BatchingHandler(out, interval_s=batch_s) if batch_s > 0 else logging.StreamHandler(out)
    )
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level)


def flush_logging() -> None:
    """Write the lines queued in this process now (before its output closes)."""
    for handler in logging.getLogger().handlers:
        handler.flush()
