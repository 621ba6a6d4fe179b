"""Choosing the provider from settings, and a live set pointed at the fakes."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from pydantic import SecretStr, ValidationError

from channels.base import Message
from channels.providers import build_channels
from reminders import ManualClock
from reminders.errors import ConfigurationError
from reminders.settings import Settings
from tests.fakes.providers import FakeSendGrid, FakeTwilio

RID = "0f8d0f3f9ce77c7dfbbf-1"


def ignore(_: object) -> None:
    raise AssertionError("live receipts come through webhooks, not this sink")


def test_live_without_credentials_fails_at_start_up_naming_every_missing_setting(
    settings: Settings, clock: ManualClock, redis_client: redis.Redis
) -> None:
    live = settings.model_copy(update={"provider": "live", "twilio_account_sid": "AC1"})

    with pytest.raises(ConfigurationError) as caught:
        build_channels(live, clock=clock, client=redis_client, outcomes=ignore)

    text = str(caught.value)
    assert "REMINDERS_TWILIO_ACCOUNT_SID" not in text
    for name in (
        "REMINDERS_TWILIO_AUTH_TOKEN",
        "REMINDERS_TWILIO_MESSAGING_SERVICE_SID (or REMINDERS_TWILIO_FROM_NUMBER)",
        "REMINDERS_SENDGRID_API_KEY",
        "REMINDERS_EMAIL_FROM",
    ):
        assert name in text


@pytest.mark.parametrize("name", ["twilio_base_url", "sendgrid_base_url", "public_url"])
def test_provider_urls_must_be_http(name: str) -> None:
    values: dict[str, Any] = {name: "ftp://example.ca"}
    with pytest.raises(ValidationError, match=name):
        Settings(_env_file=None, **values)


def test_provider_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REMINDERS_PROVIDER", "live")
    monkeypatch.setenv("REMINDERS_TWILIO_BASE_URL", "https://api.dublin.ie1.twilio.com/")
    monkeypatch.setenv("REMINDERS_SENDGRID_BASE_URL", "https://api.eu.sendgrid.com")

    built = Settings(_env_file=None)

    assert built.provider == "live"
    assert built.twilio_base_url == "https://api.dublin.ie1.twilio.com"
    assert built.sendgrid_base_url == "https://api.eu.sendgrid.com"


def test_a_live_set_built_from_settings_sends_through_the_configured_base_urls(
    settings: Settings,
    clock: ManualClock,
    redis_client: redis.Redis,
    fake_twilio: FakeTwilio,
    fake_sendgrid: FakeSendGrid,
) -> None:
    live = settings.model_copy(
        update={
            "provider": "live",
            "twilio_account_sid": fake_twilio.account_sid,
            "twilio_auth_token": SecretStr(fake_twilio.auth_token),
            "twilio_from_number": "+15005550006",
            "twilio_base_url": fake_twilio.url,
            "sendgrid_api_key": SecretStr(fake_sendgrid.api_key),
            "sendgrid_base_url": fake_sendgrid.url,
            "email_from": "rappels@example.gouv.qc.ca",
            "public_url": "https://rappels.example.ca",
        }
    )
    channels = build_channels(live, clock=clock, client=redis_client, outcomes=ignore)

    sms = channels["sms"].send(
        Message(reminder_id=RID, channel="sms", to="+15145550123", locale="fr", text="t")
    )
    mail = channels["calendar"].send(
        Message(
            reminder_id=RID, channel="calendar", to="a@example.ca", locale="fr", text="t",
            subject="s", calendar=b"BEGIN:VCALENDAR\r\nMETHOD:CANCEL\r\nEND:VCALENDAR\r\n",
        )
    )  # fmt: skip

    assert channels.provider == "live"
    assert (sms.provider, mail.provider) == ("twilio", "sendgrid")
    form = fake_twilio.requests[0].form()
    assert form["StatusCallback"] == f"https://rappels.example.ca/webhooks/twilio/status?r={RID}"
    body = fake_sendgrid.requests[0].json()
    assert body["content"][-1]["type"] == "text/calendar; method=CANCEL"
