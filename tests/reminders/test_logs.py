"""One logging set-up: timestamped text lines, or JSON objects."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import pytest

from reminders.logs import configure_logging


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
    (line,) = out.getvalue().splitlines()
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO reminders\.dispatch sent reminder=abc-1", line
    )


def test_json_lines_and_calling_again_replaces_the_handler(restored: None) -> None:
    first, second = io.StringIO(), io.StringIO()
    configure_logging("text", stream=first)
    configure_logging("json", "WARNING", stream=second)
    logging.getLogger("web.app").warning("redis unavailable on %s", "/metrics")
    assert first.getvalue() == ""
    entry = json.loads(second.getvalue())
    assert entry["level"] == "WARNING" and entry["logger"] == "web.app"
    assert entry["message"] == "redis unavailable on /metrics"
    assert entry["ts"].endswith("+00:00")
