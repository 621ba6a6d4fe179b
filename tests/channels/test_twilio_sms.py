"""Twilio SMS through the real SDK, over HTTP, against the fake Twilio."""

from __future__ import annotations

import base64
import logging
import socket

import pytest
from twilio.request_validator import RequestValidator

from channels.base import Message, TimedChannel
from channels.errors import PermanentChannelError, TransientChannelError
from channels.twilio_sms import Sender, TwilioSms, twilio_client
from reminders import ManualClock
from tests.fakes.providers import FakeTwilio, Receiver, Reply

PHONE = "+15145550123"
RID = "0f8d0f3f9ce77c7dfbbf-2"


def sms(text: str = "SAAQ : Renouveler votre permis. Repondez ARRET.") -> Message:
    return Message(reminder_id=RID, channel="sms", to=PHONE, locale="fr", text=text)


def channel(
    fake: FakeTwilio,
    clock: ManualClock,
    *,
    sender: Sender | None = None,
    token: str | None = None,
    base_url: str | None = None,
    read_timeout_s: float = 5.0,
    callback: str = "https://rappels.example.ca/webhooks/twilio/status",
) -> TwilioSms:
    client = twilio_client(
        fake.account_sid,
        token or fake.auth_token,
        base_url=base_url or fake.url,
        connect_timeout_s=2.0,
        read_timeout_s=read_timeout_s,
    )
    return TwilioSms(
        client,
        sender=sender or Sender(messaging_service_sid="MG" + "0" * 32),
        status_callback=callback,
        clock=clock,
    )


def test_send_posts_exactly_the_messages_request_twilio_documents(
    fake_twilio: FakeTwilio, clock: ManualClock
) -> None:
    receipt = channel(fake_twilio, clock).send(sms())

    [request] = fake_twilio.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages.json"
    basic = base64.b64encode(f"{fake_twilio.account_sid}:{fake_twilio.auth_token}".encode())
    assert request.headers["Authorization"] == f"Basic {basic.decode()}"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"].startswith("twilio-python/")
    assert request.form() == {
        "To": PHONE,
        "Body": "SAAQ : Renouveler votre permis. Repondez ARRET.",
        "MessagingServiceSid": "MG" + "0" * 32,
        "StatusCallback": f"https://rappels.example.ca/webhooks/twilio/status?r={RID}",
    }
    assert receipt.provider == "twilio"
    assert receipt.provider_id.startswith("SM") and receipt.provider_id in fake_twilio.messages
    assert receipt.accepted_at == clock.now()


def test_a_from_number_is_sent_as_from_when_there_is_no_messaging_service(
    fake_twilio: FakeTwilio, clock: ManualClock
) -> None:
    channel(fake_twilio, clock, sender=Sender(from_number="+15005550006")).send(sms())

    form = fake_twilio.requests[0].form()
    assert form["From"] == "+15005550006"
    assert "MessagingServiceSid" not in form


def test_a_sender_is_required() -> None:
    with pytest.raises(ValueError, match="messaging service SID or a from-number"):
        Sender()


def test_unicode_bodies_reach_twilio_intact(fake_twilio: FakeTwilio, clock: ManualClock) -> None:
    channel(fake_twilio, clock).send(sms("Échéance : réponse à «Revenu Québec» d'ici mardi"))

    assert fake_twilio.requests[0].form()["Body"] == (
        "Échéance : réponse à «Revenu Québec» d'ici mardi"
    )


@pytest.mark.parametrize(
    ("status", "code", "kind", "label"),
    [
        (429, 20429, TransientChannelError, "20429"),
        (429, None, TransientChannelError, "http-429"),
        (500, None, TransientChannelError, "http-500"),
        (503, 20503, TransientChannelError, "20503"),
        (400, 21211, PermanentChannelError, "21211"),
        (400, 21610, PermanentChannelError, "21610"),
        (400, 21614, PermanentChannelError, "21614"),
        (400, 21408, PermanentChannelError, "21408"),
        (400, 21612, PermanentChannelError, "21612"),
        (400, 30001, TransientChannelError, "30001"),
        (404, 20404, PermanentChannelError, "20404"),
    ],
)
def test_twilio_errors_map_to_transient_or_permanent_with_the_providers_code(
    fake_twilio: FakeTwilio,
    clock: ManualClock,
    status: int,
    code: int | None,
    kind: type[Exception],
    label: str,
) -> None:
    fake_twilio.script(Reply(status, code))

    with pytest.raises(kind) as caught:
        channel(fake_twilio, clock).send(sms())

    assert type(caught.value) is kind
    assert caught.value.code == label  # type: ignore[attr-defined]
    assert caught.value.provider == "twilio"  # type: ignore[attr-defined]
    # Twilio's own message quotes the number; ours must not.
    assert PHONE not in str(caught.value)
    assert PHONE[2:] not in repr(caught.value)


def test_wrong_credentials_are_a_permanent_authentication_error(
    fake_twilio: FakeTwilio, clock: ManualClock
) -> None:
    with pytest.raises(PermanentChannelError, match="authentication failed") as caught:
        channel(fake_twilio, clock, token="wrong").send(sms())
    assert caught.value.code == "20003"


def test_a_provider_that_does_not_answer_in_time_is_transient(
    fake_twilio: FakeTwilio, clock: ManualClock
) -> None:
    fake_twilio.script(Reply(201, stall_s=1.5))

    with pytest.raises(TransientChannelError) as caught:
        channel(fake_twilio, clock, read_timeout_s=0.3).send(sms())
    assert caught.value.code == "timeout"


def test_a_provider_that_cannot_be_reached_is_transient(
    fake_twilio: FakeTwilio, clock: ManualClock
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"

    with pytest.raises(TransientChannelError) as caught:
        channel(fake_twilio, clock, base_url=closed).send(sms())
    assert caught.value.code == "connection"


def test_status_callbacks_come_back_signed_to_the_reminders_webhook(
    fake_twilio: FakeTwilio, receiver: Receiver, clock: ManualClock
) -> None:
    callback = f"{receiver.url}/webhooks/twilio/status"
    receipt = channel(fake_twilio, clock, callback=callback).send(sms())

    answer = fake_twilio.callback(receipt.provider_id, "delivered")

    assert answer.status_code == 204
    [posted] = receiver.requests
    assert posted.path == "/webhooks/twilio/status"
    assert posted.query == {"r": [RID]}
    url = f"{callback}?r={RID}"
    validator = RequestValidator(fake_twilio.auth_token)
    assert validator.validate(url, posted.form(), posted.headers["X-Twilio-Signature"])
    assert not validator.validate(url, {**posted.form(), "MessageStatus": "failed"},
                                  posted.headers["X-Twilio-Signature"])  # fmt: skip
    assert posted.form()["MessageStatus"] == "delivered"
    assert posted.form()["MessageSid"] == receipt.provider_id


def test_the_timing_wrapper_logs_sends_and_failures_without_the_number(
    fake_twilio: FakeTwilio, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    timed = TimedChannel(channel(fake_twilio, clock))
    fake_twilio.script(Reply(201), Reply(400, 21211))
    caplog.set_level(logging.DEBUG)

    timed.send(sms())
    with pytest.raises(PermanentChannelError):
        timed.send(sms())

    text = caplog.text
    assert f"sent channel=sms reminder={RID}" in text
    assert "send failed channel=sms" in text and "code=21211" in text
    assert PHONE not in text and PHONE[2:] not in text
