"""One logging set-up for every process (worker, scheduler, web).

Each line carries a UTC timestamp, the level, the logger and the message;
``REMINDERS_LOG_FORMAT=json`` makes each line a JSON object instead, for a
log pipeline. Messages name reminders by id and addresses only masked
(``+1514•••23``): no phone number or email in clear reaches a log.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Literal, TextIO

LogFormat = Literal["text", "json"]
_MARK = "_reminders_handler"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message (and exc)."""

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return json.dumps(doc, ensure_ascii=False)


def text_formatter() -> logging.Formatter:
    formatter = logging.Formatter(
        "%(asctime)s.%(msecs)03dZ %(levelname)s %(name)s %(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    return formatter


def configure_logging(
    fmt: LogFormat = "text", level: str = "INFO", *, stream: TextIO | None = None
) -> None:
    """Send every logger's lines at ``level`` and above to ``stream``
    (stderr), formatted as ``fmt``; calling it again replaces the handler."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else text_formatter())
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    root.setLevel(level)
