"""Settings from REMINDERS_* variables, and policy files."""

from __future__ import annotations

from datetime import time, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from reminders import ConfigurationError, connect
from reminders.policy import load_policies
from reminders.settings import Settings


def test_settings_read_the_documented_environment_names(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {
        "REMINDERS_REDIS_URL": "redis://127.0.0.1:6390/2",
        "REMINDERS_KEY_PREFIX": "prod:",
        "REMINDERS_PROVIDER": "live",
        "REMINDERS_TWILIO_ACCOUNT_SID": "AC123",
        "REMINDERS_TWILIO_AUTH_TOKEN": "s3cr3t-tw",
        "REMINDERS_TWILIO_MESSAGING_SERVICE_SID": "MG123",
        "REMINDERS_TWILIO_FROM_NUMBER": "+15145550100",
        "REMINDERS_SENDGRID_API_KEY": "SG.key",
        "REMINDERS_SENDGRID_WEBHOOK_PUBLIC_KEY": "pub",
        "REMINDERS_EMAIL_FROM": "rappels@example.gouv.qc.ca",
        "REMINDERS_PUBLIC_URL": "https://rappels.example.gouv.qc.ca",
        "REMINDERS_ENCRYPTION_KEYS": "k1,k2",
        "REMINDERS_SIGNING_KEY": "sign",
        "REMINDERS_STAFF_TOKEN": "staff",
        "REMINDERS_COVERAGE_TARGET": "0.75",
        "REMINDERS_POLICY_FILE": "/etc/reminders/policies.toml",
        "REMINDERS_TWILIO_BASE_URL": "http://127.0.0.1:9001",
        "REMINDERS_SENDGRID_BASE_URL": "http://127.0.0.1:9002",
    }
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    settings = Settings(_env_file=None)
    assert settings.redis_url.endswith(":6390/2")
    assert settings.key_prefix == "prod:"
    assert settings.provider == "live"
    assert settings.twilio_auth_token is not None
    assert settings.twilio_auth_token.get_secret_value() == "s3cr3t-tw"
    assert "s3cr3t-tw" not in repr(settings)
    assert settings.encryption_key_list() == ["k1", "k2"]
    assert settings.coverage_target == 0.75
    assert settings.policy_file == Path("/etc/reminders/policies.toml")
    assert settings.twilio_base_url == "http://127.0.0.1:9001"
    assert settings.sendgrid_base_url == "http://127.0.0.1:9002"


def test_settings_are_read_from_a_dot_env_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text("REMINDERS_KEY_PREFIX=fromfile:\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REMINDERS_KEY_PREFIX", raising=False)
    assert Settings().key_prefix == "fromfile:"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("coverage_target", 1.5),
        ("redis_url", "http://x"),
        ("key_prefix", "a b"),
        ("provider", "aws"),
    ],
)
def test_bad_settings_name_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        Settings.model_validate({field: value})


def test_connect_without_keys_names_the_missing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REMINDERS_HASH_KEY", raising=False)
    monkeypatch.delenv("REMINDERS_ENCRYPTION_KEYS", raising=False)
    with pytest.raises(ConfigurationError, match="REMINDERS_HASH_KEY"):
        connect(Settings(_env_file=None))
    with pytest.raises(ConfigurationError, match="REMINDERS_ENCRYPTION_KEYS"):
        connect(Settings(_env_file=None, hash_key="h" * 32))
    with pytest.raises(ConfigurationError, match="Fernet key"):
        connect(Settings(_env_file=None, hash_key="h" * 32, encryption_keys="short"))


def test_the_shipped_policy_file_loads_with_agency_overrides() -> None:
    book = load_policies()
    assert book.default.offsets == (timedelta(days=30), timedelta(days=7), timedelta(days=1))
    assert book.default.quiet_start == time(21, 0)
    revenu = book.for_agency("revenu")
    assert revenu.offsets == (timedelta(days=14), timedelta(days=3))
    assert revenu.quiet_end == time(8, 0), "keys not named inherit the default"
    assert book.for_agency("unknown-agency") == book.default


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[default\n", "not valid TOML"),
        ('[default]\noffsets = ["0d"]\n', "offsets"),
        ('[default]\nchannels = ["pigeon"]\n', "channels"),
        ('[default]\nquiet_start = "08:00"\nquiet_end = "08:00"\n', "quiet_start and quiet_end"),
        ("[defaults]\n", "unknown top-level keys"),
        ('[agencies.x]\nmin_lead = "soon"\n', "min_lead"),
    ],
)
def test_a_bad_policy_file_is_refused_naming_the_problem(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "policies.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigurationError, match=message):
        load_policies(path)


def test_a_missing_policy_file_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="REMINDERS_POLICY_FILE"):
        load_policies(tmp_path / "nope.toml")
