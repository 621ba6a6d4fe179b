"""Fake Twilio and SendGrid HTTP servers on loopback.

They speak enough of each provider's API for the real SDKs: Twilio's
``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form body, basic auth)
and SendGrid's ``POST /v3/mail/send`` (JSON body, bearer key). Every request
is recorded as received, so contract tests can assert exactly what the SDKs
sent. Replies can be scripted (an error status and code, or a stall past the
client's timeout), and the fakes post delivery receipts back, signed as the
providers sign them: Twilio's HMAC-SHA1 ``X-Twilio-Signature`` and SendGrid's
ECDSA event-webhook signature.
"""

from __future__ import annotations

import base64
import json
import secrets
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from twilio.request_validator import RequestValidator


@dataclass(frozen=True)
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def form(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.body.decode()).items()}

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    """A scripted answer: an HTTP status and, for Twilio, an error code;
    ``stall_s`` holds the answer back (to trip the client's timeout)."""

    status: int
    code: int | None = None
    stall_s: float = 0.0


@dataclass
class _State:
    requests: list[Recorded] = field(default_factory=list)
    script: deque[Reply] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)


class _FakeServer:
    """A threaded HTTP server; subclasses answer in ``answer``."""

    def __init__(self) -> None:
        self.state = _State()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body go out in two writes; without this, Nagle
                # and delayed ACKs add 40 ms to every keep-alive request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                owner._handle(self)

            def do_GET(self) -> None:
                owner._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with these replies, in order."""
        with self.state.lock:
            self.state.script.extend(replies)

    @property
    def requests(self) -> list[Recorded]:
        with self.state.lock:
            return list(self.state.requests)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length)
        parts = urlsplit(handler.path)
        recorded = Recorded(
            handler.command, parts.path, parse_qs(parts.query), dict(handler.headers.items()), body
        )
        with self.state.lock:
            self.state.requests.append(recorded)
            scripted = self.state.script.popleft() if self.state.script else None
        if scripted is not None and scripted.stall_s:
            time.sleep(scripted.stall_s)
        status, headers, payload = self.answer(recorded, scripted)
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            handler.close_connection = True  # the client gave up (a timeout test)

    def answer(
        self, request: Recorded, scripted: Reply | None
    ) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError


class FakeTwilio(_FakeServer):
    """Twilio's Messages resource, with signed status callbacks."""

    def __init__(self, account_sid: str | None = None, auth_token: str | None = None) -> None:
        super().__init__()
        self.account_sid = account_sid or "AC" + secrets.token_hex(16)
        self.auth_token = auth_token or secrets.token_hex(16)
        self.messages: dict[str, dict[str, str]] = {}

    def answer(
        self, request: Recorded, scripted: Reply | None
    ) -> tuple[int, dict[str, str], bytes]:
        json_type = {"Content-Type": "application/json"}
        expected = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        auth = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {auth}":
            return 401, json_type, _twilio_error(401, 20003, "Authenticate")
        if request.method != "POST" or request.path != expected:
            return 404, json_type, _twilio_error(404, 20404, "The requested resource was not found")
        if scripted is not None and scripted.status >= 300:
            message = f"Scripted error for {request.form().get('To', '')}"  # as Twilio: quotes To
            return (
                scripted.status,
                json_type,
                _twilio_error(scripted.status, scripted.code, message),
            )
        form = request.form()
        if "To" not in form or "Body" not in form:
            return 400, json_type, _twilio_error(400, 21604, "A 'To' phone number is required.")
        sid = "SM" + secrets.token_hex(16)
        now = format_datetime(datetime.now(UTC), usegmt=True)
        with self.state.lock:
            self.messages[sid] = form
        resource = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": form["To"],
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "body": form["Body"],
            "status": "accepted" if "MessagingServiceSid" in form else "queued",
            "num_segments": "1",
            "direction": "outbound-api",
            "date_created": now,
            "date_updated": now,
            "date_sent": None,
            "error_code": None,
            "error_message": None,
            "uri": f"{expected[:-5]}/{sid}.json",
        }
        return 201, json_type, json.dumps(resource).encode()

    def callback(
        self, sid: str, status: str, *, error_code: int | None = None, url: str | None = None
    ) -> requests.Response:
        """POST a status callback for message ``sid``, signed as Twilio does."""
        form = self.messages[sid]
        target = url or form["StatusCallback"]
        params = {
            "AccountSid": self.account_sid,
            "MessageSid": sid,
            "SmsSid": sid,
            "MessageStatus": status,
            "SmsStatus": status,
            "To": form["To"],
            "From": form.get("From", "+15005550006"),
            "ApiVersion": "2010-04-01",
        }
        if "MessagingServiceSid" in form:
            params["MessagingServiceSid"] = form["MessagingServiceSid"]
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        signature = RequestValidator(self.auth_token).compute_signature(target, params)
        return requests.post(
            target, data=params, headers={"X-Twilio-Signature": signature}, timeout=10
        )


def _twilio_error(status: int, code: int | None, message: str) -> bytes:
    info = f"https://www.twilio.com/docs/errors/{code}" if code else None
    return json.dumps(
        {"code": code, "message": message, "more_info": info, "status": status}
    ).encode()


class FakeSendGrid(_FakeServer):
    """SendGrid's Mail Send, with signed event webhooks."""

    def __init__(self, api_key: str | None = None) -> None:
        super().__init__()
        self.api_key = api_key or "SG." + secrets.token_urlsafe(24)
        self._signing_key = ec.generate_private_key(ec.SECP256R1())
        self.sent: dict[str, dict[str, Any]] = {}

    @property
    def public_key(self) -> str:
        """The verification key, as SendGrid's settings page shows it."""
        der = self._signing_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return base64.b64encode(der).decode()

    def answer(
        self, request: Recorded, scripted: Reply | None
    ) -> tuple[int, dict[str, str], bytes]:
        json_type = {"Content-Type": "application/json"}
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, json_type, _sendgrid_error("The provided authorization grant is invalid")
        if request.method != "POST" or request.path != "/v3/mail/send":
            return 404, json_type, _sendgrid_error("not found")
        if scripted is not None and scripted.status >= 300:
            return scripted.status, json_type, _sendgrid_error("scripted error")
        try:
            body = request.json()
        except ValueError:
            return 400, json_type, _sendgrid_error("Bad Request")
        problem = _mail_problem(body)
        if problem:
            return 400, json_type, _sendgrid_error(problem)
        message_id = secrets.token_urlsafe(16)
        with self.state.lock:
            self.sent[message_id] = body
        return 202, {"X-Message-Id": message_id}, b""

    def events(
        self, url: str, events: list[dict[str, Any]], *, signed_at: float | None = None
    ) -> requests.Response:
        """POST an event batch to ``url``, signed as SendGrid does."""
        payload = json.dumps(events).encode()
        return requests.post(url, data=payload, headers=self.sign(payload, signed_at), timeout=10)

    def sign(self, payload: bytes, signed_at: float | None = None) -> dict[str, str]:
        """The headers SendGrid puts on a batch: ECDSA over timestamp + body."""
        timestamp = str(int(time.time() if signed_at is None else signed_at))
        signature = self._signing_key.sign(timestamp.encode() + payload, ec.ECDSA(hashes.SHA256()))
        return {
            "Content-Type": "application/json",
            "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
            "X-Twilio-Email-Event-Webhook-Timestamp": timestamp,
        }

    def event(self, message_id: str, event: str, **extra: Any) -> dict[str, Any]:
        """One event about a sent message, with its custom_args as SendGrid adds them."""
        body = self.sent[message_id]
        data: dict[str, Any] = {
            "email": body["personalizations"][0]["to"][0]["email"],
            "timestamp": int(time.time()),
            "event": event,
            "sg_event_id": secrets.token_urlsafe(16),
            "sg_message_id": f"{message_id}.filter0001.1.0",
            "smtp-id": f"<{message_id}@fake.sendgrid>",
        }
        data.update(body.get("custom_args", {}))
        data.update(extra)
        return data


def _mail_problem(body: dict[str, Any]) -> str:
    """What SendGrid's validation would refuse in a Mail Send body, or ''."""
    personalizations = body.get("personalizations") or []
    if not personalizations or not personalizations[0].get("to"):
        return "The personalizations field is required"
    if not (body.get("from") or {}).get("email"):
        return "The from email is required"
    if not body.get("subject"):
        return "The subject is required"
    contents = body.get("content") or []
    if not contents:
        return "The content field is required"
    if contents[0].get("type") != "text/plain":
        return "text/plain must come first"
    return ""


def _sendgrid_error(message: str) -> bytes:
    return json.dumps({"errors": [{"message": message, "field": None, "help": None}]}).encode()


class Receiver(_FakeServer):
    """Records whatever is posted to it and answers 204: a stand-in for the
    web app when only the provider side is under test."""

    def answer(
        self, request: Recorded, scripted: Reply | None
    ) -> tuple[int, dict[str, str], bytes]:
        return (scripted.status if scripted else 204), {}, b""
