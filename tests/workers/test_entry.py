"""The module each worker process of ``reminders worker`` imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reminders.settings import Settings
from tests.conftest import process_env

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, json, logging
import workers.entry as entry
print(json.dumps({
    "threshold": gc.get_threshold()[0],
    "frozen": gc.get_freeze_count(),
    "handler": type(logging.getLogger().handlers[-1]).__name__,
    "actor": entry.worker.actor.actor_name,
}))
entry.worker.close()
"""


def test_a_worker_process_is_built_with_batched_logs_and_its_start_up_frozen_out_of_gc(
    settings: Settings,
) -> None:
    env = process_env(
        settings,
        REMINDERS_SIGNING_KEY=settings.signing_key.get_secret_value(),  # type: ignore[union-attr]
        REMINDERS_PROVIDER="sandbox",
    )
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, timeout=120
    )
    assert done.returncode == 0, done.stderr.decode()
    found = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert found["threshold"] == 10_000  # Python's default is 700
    assert found["frozen"] > 10_000  # start-up's objects, out of the collector's walks
    assert found["handler"] == "BatchingHandler"
    assert found["actor"] == "dispatch"
