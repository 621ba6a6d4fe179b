"""`reminders web` in a process of its own, on a private Redis, for the
benchmarks that go through HTTP (bench.webhooks, bench.api)."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from cryptography.fernet import Fernet

from reminders.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class WebSetup:
    """The settings the web process runs with (as its environment), and the
    same as a :class:`Settings` for this process's own service."""

    env: dict[str, str]
    settings: Settings
    url: str


def web_setup(redis_url: str, **extra: str) -> WebSetup:
    """Fresh secrets and a free port; ``extra`` adds ``REMINDERS_*`` variables."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "REMINDERS_REDIS_URL": redis_url,
        "REMINDERS_KEY_PREFIX": "bench:",
        "REMINDERS_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "REMINDERS_HASH_KEY": secrets.token_urlsafe(32),
        "REMINDERS_SIGNING_KEY": secrets.token_urlsafe(32),
        "REMINDERS_PUBLIC_URL": url,
        **extra,
    }
    values: dict[str, Any] = {
        k[10:].lower(): v for k, v in env.items() if k.startswith("REMINDERS_")
    }
    return WebSetup(env, Settings(_env_file=None, **values), url)


@contextmanager
def running_web(setup: WebSetup) -> Iterator[str]:
    """`reminders web` (one uvicorn process) until the block ends; its URL."""
    port = setup.url.rsplit(":", 1)[1]
    web = subprocess.Popen(
        [sys.executable, "-m", "reminders", "web", "--port", port],
        cwd=ROOT,
        env=setup.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            try:
                httpx.get(setup.url + "/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        yield setup.url
    finally:
        web.terminate()
        web.wait(10)
