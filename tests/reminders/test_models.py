"""Bad input is refused at the boundary, naming the field, writing nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import pytest
import redis
from pydantic import ValidationError

from reminders import Citizen, Deadline, DeadlinePassed, ReminderService
from reminders.models import explain
from reminders.settings import Settings
from tests.conftest import deadline_data, prefixed_keys

BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("naive datetime", {"due": datetime(2026, 12, 15, 17, 0)}, "due"),
    ("naive datetime string", {"due": "2026-12-15T17:00:00"}, "due"),
    ("unparseable due", {"due": "next tuesday"}, "due"),
    ("unknown time zone", {"citizen": {"timezone": "Mars/Olympus"}}, "citizen.timezone"),
    ("path-like time zone", {"citizen": {"timezone": "../../etc/passwd"}}, "citizen.timezone"),
    ("phone without plus", {"citizen": {"phone": "5145550123"}}, "citizen.phone"),
    ("phone not a real number", {"citizen": {"phone": "+15140000000"}}, "citizen.phone"),
    ("phone too short", {"citizen": {"phone": "+1514555"}}, "citizen.phone"),
    ("invalid email", {"citizen": {"email": "a@@example"}}, "citizen.email"),
    ("unknown locale", {"citizen": {"locale": "de"}}, "citizen.locale"),
    ("unknown channel", {"channels": ["sms", "fax"]}, "channels"),
    ("repeated channel", {"channels": ["sms", "sms"]}, "channels"),
    ("empty channel list", {"channels": []}, "channels"),
    ("empty title", {"title": {"fr": "   "}}, "title"),
    ("no title at all", {"title": {}}, "title"),
    ("oversized title", {"title": {"fr": "x" * 121}}, "title"),
    ("title in unknown locale", {"title": {"de": "Frist"}}, "title"),
    ("zero offset", {"offsets": ["0d"]}, "offsets"),
    ("negative offset", {"offsets": [-3600]}, "offsets"),
    ("duplicate offsets", {"offsets": ["7d", "P7D"]}, "offsets"),
    ("offset in words", {"offsets": ["7days"]}, "offsets.0"),
    ("offset as bare text", {"offsets": ["1 week"]}, "offsets.0"),
    ("too many offsets", {"offsets": [f"{d}d" for d in range(1, 12)]}, "offsets"),
    ("agency with capitals", {"agency": "SAAQ"}, "agency"),
    ("agency with key separator", {"agency": "saaq:x"}, "agency"),
    ("agency too long", {"agency": "a" * 33}, "agency"),
    ("ref with brace", {"ref": "permit-{1}"}, "ref"),
    ("ref with space", {"ref": "permit 42"}, "ref"),
    ("ref too long", {"ref": "r" * 129}, "ref"),
    ("empty ref", {"ref": ""}, "ref"),
    ("http url", {"action_url": "http://example.gouv.qc.ca/renew"}, "action_url"),
    ("javascript url", {"action_url": "javascript:alert(1)"}, "action_url"),
    ("control char in title", {"title": {"fr": "Renouveler\x00 permis"}}, "title"),
    ("newline in ref", {"ref": "permit\n42"}, "ref"),
    ("bidi override in title", {"title": {"fr": "Payer \u202evotre"}}, "title"),
    ("control char in email", {"citizen": {"email": "a\x07@example.ca"}}, "citizen.email"),
    ("unknown field", {"priority": "high"}, "priority"),
    ("bare integer due", {"due": 1796400000}, "due"),
    ("boolean due", {"due": True}, "due"),
    ("zero-width space in title", {"title": {"fr": "Payer\u200bvotre permis"}}, "title"),
    ("right-to-left mark in title", {"title": {"fr": "Payer \u200fvotre permis"}}, "title"),
    ("byte order mark in title", {"title": {"fr": "\ufeffPayer votre permis"}}, "title"),
    ("url with user info", {"action_url": "https://gouv.qc.ca@evil.test/renew"}, "action_url"),
    ("url with user and password", {"action_url": "https://a:b@evil.test/x"}, "action_url"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(
    case: str,
    change: dict[str, Any],
    field: str,
    service: ReminderService,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    data = deadline_data(**change)
    with pytest.raises(ValidationError) as caught:
        Deadline.model_validate(data)
    message = explain(caught.value)
    assert message.startswith(field), message

    (result,) = service.register_many([data])
    assert not result.ok
    assert result.error is not None and result.error.startswith(field)
    assert prefixed_keys(redis_client, settings) == []


def test_due_already_past_is_refused_by_the_service_and_nothing_is_written(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    deadline = Deadline.model_validate(deadline_data(due="2026-11-20T17:00:00-05:00"))
    with pytest.raises(DeadlinePassed, match=r"^due: is not in the future"):
        service.register(deadline)
    (result,) = service.register_many([deadline])
    assert result.error == "due: is not in the future"
    assert prefixed_keys(redis_client, settings) == []


def test_personal_data_never_appears_in_validation_messages() -> None:
    with pytest.raises(ValidationError) as caught:
        Citizen(phone="+15140000000", email="jean.tremblay@@example.ca")
    assert "5140000000" not in str(caught.value)
    assert "tremblay" not in str(caught.value)
    assert "tremblay" not in explain(caught.value)


def test_a_date_means_the_end_of_that_day_in_the_citizens_zone() -> None:
    deadline = Deadline.model_validate(deadline_data(due="2026-12-15"))
    assert deadline.due == date(2026, 12, 15)
    assert deadline.all_day
    assert deadline.due_instant().isoformat() == "2026-12-16T04:59:59+00:00"


def test_phone_and_email_are_normalised() -> None:
    citizen = Citizen(phone="+15145550123", email="Jean@EXAMPLE.ca")
    assert citizen.phone == "+15145550123"
    assert citizen.email == "Jean@example.ca"


def test_a_plain_string_title_serves_both_locales_and_offsets_take_short_forms() -> None:
    deadline = Deadline.model_validate(deadline_data(title="Permis", offsets=["2w", "36h", "P1D"]))
    assert deadline.title == {"fr": "Permis", "en": "Permis"}
    assert deadline.offsets == [timedelta(days=14), timedelta(hours=36), timedelta(days=1)]


def test_a_due_date_past_the_policys_horizon_is_refused_and_nothing_is_written(
    service: ReminderService, redis_client: redis.Redis, settings: Settings
) -> None:
    century = deadline_data(due="2126-01-15T17:00:00-05:00")
    (result,) = service.register_many([century])
    assert not result.ok and result.error is not None
    assert result.error.startswith("due: is more than")
    assert prefixed_keys(redis_client, settings) == []
    inside = deadline_data(ref="in-4-years", due="2030-01-15")
    assert service.register_many([inside])[0].ok


def test_emoji_sequences_in_titles_stay_allowed() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    deadline = Deadline.model_validate(
        deadline_data(title={"fr": f"Permis {family} \u00e9t\u00e9"})
    )
    assert family in deadline.title["fr"]
