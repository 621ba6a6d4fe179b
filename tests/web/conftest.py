"""The web app served by a real uvicorn on loopback, providers faked.

Settings point the live providers at the fake Twilio and SendGrid servers and
the public URL at this server, so status callbacks the fakes post (to the
callback URL the SDK sent them) land here, signed with the fakes' keys.
"""

from __future__ import annotations

import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from reminders import Deadline, ManualClock, ReminderService
from reminders.settings import Settings
from reminders.wiring import Core, build_core
from tests.conftest import deadline_data
from tests.fakes.providers import FakeSendGrid, FakeTwilio
from tests.workers.conftest import Rig, make_rig  # noqa: F401  (a fixture)
from web import create_app


@dataclass
class Web:
    url: str
    core: Core
    app: FastAPI
    twilio: FakeTwilio
    sendgrid: FakeSendGrid

    @property
    def settings(self) -> Settings:
        return self.core.settings

    @property
    def service(self) -> ReminderService:
        return self.core.service

    def twilio_post(
        self, path: str, params: dict[str, str], *, signed_for: str | None = None
    ) -> requests.Response:
        """POST a form signed as Twilio signs it, for the public URL."""
        token = self.twilio.auth_token
        target = signed_for or self.settings.public_url + path
        signature = RequestValidator(token).compute_signature(target, params)
        return requests.post(
            self.url + path, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )

    def reply(self, sender: str, body: str) -> requests.Response:
        params = {
            "AccountSid": self.twilio.account_sid,
            "MessageSid": "SM" + "0" * 32,
            "From": sender,
            "To": "+15005550006",
            "Body": body,
        }
        return self.twilio_post("/webhooks/twilio/inbound", params)


def serve(app: FastAPI, sock: socket.socket) -> Callable[[], None]:
    """Run uvicorn on ``sock`` in a thread; returns the stop function."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(10)

    return stop


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parents[2] / "artifacts"
"""Where the browser tests put their screenshots (every page, fr and en,
desktop and phone)."""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, driven by Playwright."""
    if CHROMIUM is None:
        pytest.fail("chromium is not installed: .ci/run installs it with apt-get")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def web_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


@pytest.fixture
def live(
    web_socket: socket.socket, fake_twilio: FakeTwilio, fake_sendgrid: FakeSendGrid
) -> dict[str, Any]:
    """Setting overrides: live providers on the fakes, this server public."""
    port = web_socket.getsockname()[1]
    return {
        "provider": "live",
        "public_url": f"http://127.0.0.1:{port}",
        "twilio_account_sid": fake_twilio.account_sid,
        "twilio_auth_token": SecretStr(fake_twilio.auth_token),
        "twilio_messaging_service_sid": "MG" + "1" * 32,
        "twilio_base_url": fake_twilio.url,
        "sendgrid_api_key": SecretStr(fake_sendgrid.api_key),
        "sendgrid_webhook_public_key": fake_sendgrid.public_key,
        "sendgrid_base_url": fake_sendgrid.url,
        "email_from": "rappels@example.gouv.qc.ca",
        "twilio_rate_per_s": 0,
        "sendgrid_rate_per_s": 0,
    }


@pytest.fixture
def make_web(
    settings: Settings,
    clock: ManualClock,
    live: dict[str, Any],
    web_socket: socket.socket,
    fake_twilio: FakeTwilio,
    fake_sendgrid: FakeSendGrid,
) -> Iterator[Callable[..., Web]]:
    stops: list[Callable[[], None]] = []
    sockets = [web_socket]

    def make(**overrides: Any) -> Web:
        # The first app listens on the test's socket (the fakes' callbacks go
        # there); each further one on a socket of its own, so that requests
        # meant for one app never reach another.
        sock = web_socket
        extra: dict[str, Any] = {}
        if stops:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
            extra["public_url"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
        tuned = settings.model_copy(update={**live, **extra, **overrides})
        core = build_core(tuned, clock=clock)
        app = create_app(core)
        stops.append(serve(app, sock))
        stops.append(core.close)
        port = sock.getsockname()[1]
        return Web(f"http://127.0.0.1:{port}", core, app, fake_twilio, fake_sendgrid)

    yield make
    for stop in stops:
        stop()
    for sock in sockets[1:]:
        sock.close()


@pytest.fixture
def web(make_web: Callable[..., Web]) -> Web:
    return make_web()


def register(service: ReminderService, **overrides: Any) -> str:
    """Register the sample deadline; returns the id of its first reminder
    ("" when none could be planned)."""
    receipt = service.register(Deadline.model_validate(deadline_data(**overrides)))
    return receipt.reminders[0].id if receipt.reminders else ""


def send_first(rig: Rig, service: ReminderService, clock: ManualClock, **overrides: Any) -> str:
    """Register a deadline and let the workers send its first reminder."""
    rid = register(service, **overrides)
    first = service.get("saaq", overrides.get("ref", "permit-2026-00042")).reminders[0]
    clock.set(max(clock.now(), first.send_at + timedelta(seconds=1)))
    rig.run_due()
    return rid


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)
