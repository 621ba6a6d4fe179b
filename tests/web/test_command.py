"""`reminders web` as an operator runs it."""

from __future__ import annotations

import subprocess
import sys
import time

import requests

from reminders.settings import Settings
from tests.conftest import process_env


def test_reminders_web_serves_until_terminated(settings: Settings, unused_port: int) -> None:
    env = process_env(settings, REMINDERS_SIGNING_KEY=settings.signing_key.get_secret_value())  # type: ignore[union-attr]
    command = [sys.executable, "-m", "reminders", "web", "--port", str(unused_port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        answer = None
        for _ in range(200):
            try:
                answer = requests.get(f"http://127.0.0.1:{unused_port}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        assert answer is not None and answer.json()["status"] == "ok"
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    # uvicorn shuts down cleanly, then re-raises the signal it caught.
    assert process.returncode in (0, -15), output.decode()
    assert b"Application shutdown complete" in output


def test_reminders_web_names_a_missing_signing_key(settings: Settings, unused_port: int) -> None:
    command = [sys.executable, "-m", "reminders", "web", "--port", str(unused_port)]
    done = subprocess.run(command, env=process_env(settings), capture_output=True, timeout=60)
    assert done.returncode == 2
    assert b"REMINDERS_SIGNING_KEY" in done.stdout + done.stderr


def test_with_two_web_processes_every_scrape_counts_every_process(
    settings: Settings, unused_port: int
) -> None:
    env = process_env(settings, REMINDERS_SIGNING_KEY=settings.signing_key.get_secret_value())  # type: ignore[union-attr]
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["REMINDERS_TWILIO_AUTH_TOKEN"] = "t" * 32  # signatures are checked, so forgeries counted
    command = [
        sys.executable, "-m", "reminders", "web", "--port", str(unused_port), "--workers", "2",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{unused_port}"
    try:
        for _ in range(400):
            try:
                requests.get(base + "/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        for _ in range(20):  # unsigned: refused and counted as forged, each on a new connection
            answer = requests.post(base + "/webhooks/twilio/status", data={"a": "b"}, timeout=5)
            assert answer.status_code == 403
        line = 'reminders_webhook_events_total{result="forged",source="twilio"} 20.0'
        scrapes = [requests.get(base + "/metrics", timeout=5).text for _ in range(6)]
        assert all(line in text for text in scrapes), [t[:300] for t in scrapes]
    finally:
        process.terminate()
        process.communicate(timeout=20)
