"""SendGrid email through the real SDK, over HTTP, against the fake SendGrid."""

from __future__ import annotations

import base64
import json
import socket

import pytest
from sendgrid.helpers.eventwebhook import EventWebhook

from channels.base import Attachment, Message
from channels.errors import PermanentChannelError, TransientChannelError
from channels.sendgrid_email import SendGridEmail, sendgrid_client
from reminders import ManualClock
from tests.fakes.providers import FakeSendGrid, Receiver, Reply

EMAIL = "citoyen@example.ca"
RID = "0f8d0f3f9ce77c7dfbbf-3"
ICS = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"


def email(**overrides: object) -> Message:
    values: dict[str, object] = {
        "reminder_id": RID,
        "channel": "email",
        "to": EMAIL,
        "locale": "fr",
        "subject": "Rappel : Renouveler votre permis",
        "text": "Bonjour,\n\nSAAQ vous rappelle...",
        "html": "<p>Bonjour,</p>",
        "reply_to": "aide@saaq.example.ca",
        "sender_name": "SAAQ",
        "unsubscribe_url": "https://rappels.example.ca/stop/tok",
    }
    values.update(overrides)
    return Message(**values)  # type: ignore[arg-type]


def channel(
    fake: FakeSendGrid,
    clock: ManualClock,
    *,
    key: str | None = None,
    base_url: str | None = None,
    timeout_s: float = 5.0,
) -> SendGridEmail:
    client = sendgrid_client(
        key or fake.api_key, base_url=base_url or fake.url, timeout_s=timeout_s
    )
    return SendGridEmail(client, sender="rappels@example.gouv.qc.ca", clock=clock)


def test_send_posts_the_mail_send_request_with_both_parts_and_the_reminder_id(
    fake_sendgrid: FakeSendGrid, clock: ManualClock
) -> None:
    receipt = channel(fake_sendgrid, clock).send(email())

    [request] = fake_sendgrid.requests
    assert request.method == "POST"
    assert request.path == "/v3/mail/send"
    assert request.headers["Authorization"] == f"Bearer {fake_sendgrid.api_key}"
    assert request.headers["User-Agent"].startswith("sendgrid/")
    assert request.json() == {
        "from": {"email": "rappels@example.gouv.qc.ca", "name": "SAAQ"},
        "subject": "Rappel : Renouveler votre permis",
        "personalizations": [{"to": [{"email": EMAIL}]}],
        "content": [
            {"type": "text/plain", "value": "Bonjour,\n\nSAAQ vous rappelle..."},
            {"type": "text/html", "value": "<p>Bonjour,</p>"},
        ],
        "reply_to": {"email": "aide@saaq.example.ca"},
        "headers": {
            "List-Unsubscribe": "<https://rappels.example.ca/stop/tok>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "custom_args": {"reminder_id": RID},
        # Click tracking would rewrite the signed links; no open pixel either.
        "tracking_settings": {
            "click_tracking": {"enable": False, "enable_text": False},
            "open_tracking": {"enable": False},
            "subscription_tracking": {"enable": False},
            "ganalytics": {"enable": False},
        },
    }
    assert receipt.provider == "sendgrid"
    assert receipt.provider_id in fake_sendgrid.sent
    assert receipt.accepted_at == clock.now()


def test_an_invite_travels_as_a_calendar_part_and_an_ics_attachment(
    fake_sendgrid: FakeSendGrid, clock: ManualClock
) -> None:
    invite = email(
        channel="calendar",
        calendar=ICS,
        attachments=(Attachment("invite.ics", "application/ics", ICS),),
    )

    channel(fake_sendgrid, clock).send(invite)

    body = fake_sendgrid.requests[0].json()
    assert [c["type"] for c in body["content"]] == [
        "text/plain",
        "text/html",
        "text/calendar; method=REQUEST",
    ]
    assert body["content"][2]["value"].encode() == ICS
    [attachment] = body["attachments"]
    assert attachment["filename"] == "invite.ics"
    assert attachment["type"] == "application/ics"
    assert attachment["disposition"] == "attachment"
    assert base64.b64decode(attachment["content"]) == ICS


def test_a_message_without_reply_to_or_unsubscribe_leaves_them_out(
    fake_sendgrid: FakeSendGrid, clock: ManualClock
) -> None:
    channel(fake_sendgrid, clock).send(email(reply_to=None, unsubscribe_url=None, sender_name=""))

    body = fake_sendgrid.requests[0].json()
    assert "reply_to" not in body and "headers" not in body
    assert body["from"] == {"email": "rappels@example.gouv.qc.ca"}


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, PermanentChannelError),
        (403, PermanentChannelError),
        (413, PermanentChannelError),
        (429, TransientChannelError),
        (500, TransientChannelError),
        (503, TransientChannelError),
    ],
)
def test_sendgrid_errors_map_to_transient_or_permanent(
    fake_sendgrid: FakeSendGrid, clock: ManualClock, status: int, kind: type[Exception]
) -> None:
    fake_sendgrid.script(Reply(status))

    with pytest.raises(kind) as caught:
        channel(fake_sendgrid, clock).send(email())

    assert type(caught.value) is kind
    assert caught.value.code == str(status)  # type: ignore[attr-defined]
    assert EMAIL not in str(caught.value)


def test_a_wrong_api_key_is_a_permanent_401(
    fake_sendgrid: FakeSendGrid, clock: ManualClock
) -> None:
    with pytest.raises(PermanentChannelError, match="check the API key") as caught:
        channel(fake_sendgrid, clock, key="SG.wrong").send(email())
    assert caught.value.code == "401"


def test_a_body_sendgrid_refuses_is_permanent(
    fake_sendgrid: FakeSendGrid, clock: ManualClock
) -> None:
    with pytest.raises(PermanentChannelError) as caught:
        channel(fake_sendgrid, clock).send(email(subject=""))
    assert caught.value.code == "400"


def test_a_provider_that_does_not_answer_in_time_is_transient(
    fake_sendgrid: FakeSendGrid, clock: ManualClock
) -> None:
    fake_sendgrid.script(Reply(202, stall_s=1.5))

    with pytest.raises(TransientChannelError) as caught:
        channel(fake_sendgrid, clock, timeout_s=0.3).send(email())
    assert caught.value.code == "timeout"


def test_a_provider_that_cannot_be_reached_is_transient(
    fake_sendgrid: FakeSendGrid, clock: ManualClock
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"

    with pytest.raises(TransientChannelError) as caught:
        channel(fake_sendgrid, clock, base_url=closed).send(email())
    assert caught.value.code == "connection"


def test_events_come_back_signed_with_the_reminder_id(
    fake_sendgrid: FakeSendGrid, receiver: Receiver, clock: ManualClock
) -> None:
    receipt = channel(fake_sendgrid, clock).send(email())
    events = [fake_sendgrid.event(receipt.provider_id, "delivered")]

    answer = fake_sendgrid.events(f"{receiver.url}/webhooks/sendgrid/events", events)

    assert answer.status_code == 204
    [posted] = receiver.requests
    payload = posted.body.decode()
    assert json.loads(payload)[0]["reminder_id"] == RID
    assert json.loads(payload)[0]["sg_message_id"].startswith(receipt.provider_id)
    verifier = EventWebhook(fake_sendgrid.public_key)
    signature = posted.headers["X-Twilio-Email-Event-Webhook-Signature"]
    timestamp = posted.headers["X-Twilio-Email-Event-Webhook-Timestamp"]
    assert verifier.verify_signature(payload, signature, timestamp)
    assert not verifier.verify_signature(
        payload.replace("delivered", "bounce"), signature, timestamp
    )
