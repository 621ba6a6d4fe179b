"""Settings from ``REMINDERS_*`` environment variables and ``.env``.

Built once per process (in the CLI or by ``reminders.connect``) and passed
down; tests build it with keywords.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .errors import ConfigurationError


class Settings(BaseSettings):
    """Everything an operator can set. Secrets are ``SecretStr``."""

    model_config = SettingsConfigDict(
        env_prefix="REMINDERS_", env_file=".env", extra="ignore", frozen=True
    )

    redis_url: str = "redis://127.0.0.1:6379/0"
    """The data's Redis: one server, or any node of a Redis Cluster."""
    redis_cluster: bool = False
    """``REMINDERS_REDIS_URL`` is a node of a Redis (or Valkey) Cluster."""
    broker_url: str | None = None
    """The plain Redis of Dramatiq's queues (its broker does not support
    Cluster); default ``REMINDERS_REDIS_URL`` when that is not a cluster."""
    shards: int | None = Field(default=None, ge=1, le=1024)
    """Shards of the data, fixed when a deployment is created (default 1 on
    one Redis, 64 on a cluster)."""
    key_prefix: str = Field(default="rem:", pattern=r"^[A-Za-z0-9:_.-]{0,32}$")
    provider: Literal["sandbox", "live"] = "sandbox"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_messaging_service_sid: str | None = None
    twilio_from_number: str | None = None
    twilio_base_url: str = "https://api.twilio.com"
    sendgrid_api_key: SecretStr | None = None
    sendgrid_webhook_public_key: str | None = None
    sendgrid_base_url: str = "https://api.sendgrid.com"
    email_from: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    provider_connect_timeout_s: float = Field(default=5.0, gt=0, le=60)
    provider_read_timeout_s: float = Field(default=10.0, gt=0, le=120)
    sandbox_receipt_delay_s: float = Field(default=1.0, ge=0, le=3600)
    """How long the sandbox provider waits before reporting an outcome."""

    encryption_keys: SecretStr | None = None
    """Comma-separated Fernet keys; the first encrypts, all decrypt."""
    hash_key: SecretStr | None = None
    """Key of the keyed hashes of addresses (opt-out lists, fingerprints)."""
    signing_key: SecretStr | None = None
    staff_token: SecretStr | None = None

    scheduler_batch: int = Field(default=1000, ge=1, le=10_000)
    """Reminders claimed per scheduler step."""
    members_per_message: int = Field(default=32, ge=1, le=500)
    """Due reminders one Dramatiq message carries; the worker sends them
    concurrently, each its own exactly-once state machine. (A full
    scheduler batch of 1,000 is 32 messages: two for each thread of two
    8-thread workers.)"""
    scheduler_poll_s: float = Field(default=1.0, gt=0, le=60)
    """Longest sleep of an idle scheduler (it wakes sooner for the next due one)."""
    scheduler_tick_s: float = Field(default=0.02, ge=0, le=1)
    """Shortest sleep between two releases: when reminders fall due every
    millisecond, one release takes what fell due in the tick (a reminder
    waits at most this much longer, and messages carry several members)."""
    retention_sweep_s: float = Field(default=10.0, ge=0)
    """How often a scheduler takes one step (``retention_batch`` keys) of the
    retention sweep; 0 turns the sweep off (``reminders purge`` still works)."""
    retention_batch: int = Field(default=500, ge=1, le=10_000)
    """Deadline keys one retention step looks at."""
    lease_s: int = Field(default=60, ge=5)
    """How long a claimed batch may take to be enqueued before the reaper
    returns it to the schedule."""
    redelivery_s: int = Field(default=600, ge=5)
    """A released reminder no worker has handled after this long (its message
    lost) is released again."""
    no_receipt_after_s: int = Field(default=72 * 3600, ge=60)
    """A sent reminder with no receipt after this long becomes ``no_receipt``."""
    retry_base_s: float = Field(default=60.0, gt=0)
    """First backoff after a transient error; doubled each attempt, jittered."""
    retry_max_attempts: int = Field(default=0, ge=0, le=10_000)
    """A ceiling on tries of one reminder (0: none, the deadline is the bound)."""
    retry_cap_s: float = Field(default=1800.0, gt=0)
    """Longest wait between two tries after transient errors."""
    twilio_rate_per_s: int = Field(default=10, ge=0)
    """SMS per second for the Twilio account, across all workers (0: no limit)."""
    sendgrid_rate_per_s: int = Field(default=100, ge=0)
    sandbox_rate_per_s: int = Field(default=0, ge=0)
    worker_heartbeat_timeout_s: int = Field(default=60, ge=2)
    """After this long without a heartbeat, a worker's unacknowledged messages
    go back to the queue for the others (Dramatiq's Redis broker)."""
    worker_idle_poll_ms: int = Field(default=50, ge=5, le=5000)
    """Longest an idle worker waits before looking again at an empty queue.
    The dispatch queue has a doorbell the scheduler rings as it releases, so
    reminders do not wait for this; it bounds the wait for messages queued
    without a ring (Dramatiq's retries and requeues) and for callbacks
    (Dramatiq itself backs off up to its idle timeout, 5 s by default)."""
    worker_metrics: bool = False
    """Dramatiq's Prometheus middleware (port ``dramatiq_prom_port``, 9191)."""

    web_max_body_bytes: int = Field(default=1_048_576, ge=1024, le=64 * 1_048_576)
    """Largest request body the web app reads (SendGrid batches stay far below)."""
    sendgrid_webhook_tolerance_s: int = Field(default=600, ge=10)
    """A SendGrid event batch signed longer ago than this is refused (replay)."""
    webhook_dedup_s: int = Field(default=7 * 86400, ge=60)
    """How long SendGrid event ids are remembered to drop duplicate copies."""
    last_sms_ttl_s: int = Field(default=90 * 86400, ge=3600)
    """How long a number's latest reminder is remembered for SNOOZE replies."""

    api_rate_per_s: float = Field(default=20.0, gt=0, le=100_000)
    """Requests per second one agency's keys may make, across web processes
    (per agency overridable: ``reminders agencies limits``)."""
    api_burst: int = Field(default=40, ge=1, le=1_000_000)
    """How many requests may come at once before the rate applies."""
    api_daily_quota: int = Field(default=1_000_000, ge=1)
    """Deadline operations per agency per UTC day (a batch item counts one)."""
    api_max_body_bytes: int = Field(default=16 * 1_048_576, ge=1024, le=256 * 1_048_576)
    """Largest body of the agency API (a batch of 10,000 deadlines fits)."""
    callback_allow_http_loopback: bool = False
    """Accept http:// callback URLs on loopback hosts (tests only)."""
    callback_give_up_s: int = Field(default=48 * 3600, ge=60)
    """A status callback is retried until this long after its event."""
    callback_min_backoff_ms: int = Field(default=5_000, ge=10)
    callback_max_backoff_ms: int = Field(default=3_600_000, ge=10)
    """Backoff between tries of a status callback (doubling, jittered)."""
    metrics_token: SecretStr | None = None
    """Bearer token that /metrics requires; unset, only loopback clients get it."""
    signin_max_failures: int = Field(default=5, ge=1, le=1000)
    """Failed staff sign-ins per client and per account before 429."""
    signin_window_s: int = Field(default=900, ge=10)
    """The window those failures are counted over."""
    staff_session_s: int = Field(default=12 * 3600, ge=60)
    """How long a staff sign-in lasts."""

    sms_service_name: str = Field(default="Rappels Québec", min_length=1, max_length=40)
    """The service's name in answers to SMS keywords (HELP, STOP...)."""
    sms_help_contact: str | None = Field(default=None, max_length=60)
    """Where citizens get help, in the HELP/AIDE/INFO answer (a phone number
    or a short URL; default ``REMINDERS_PUBLIC_URL``)."""

    log_format: Literal["text", "json"] = "text"
    """Log lines as text (timestamp, level, logger, message) or JSON objects."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    coverage_target: float = Field(default=0.60, gt=0.0, le=1.0)
    policy_file: Path | None = None
    audit_maxlen: int = Field(default=1_000_000, ge=1_000)
    """Approximate number of audit events kept in the stream."""

    @field_validator("public_url", "twilio_base_url", "sendgrid_base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("redis_url", "broker_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value

    def shard_count(self) -> int:
        """How many shards the data has (``REMINDERS_SHARDS`` or the default)."""
        if self.shards is not None:
            return self.shards
        return 64 if self.redis_cluster else 1

    def broker_redis_url(self) -> str:
        """The URL of the broker's plain Redis; a cluster without
        ``REMINDERS_BROKER_URL`` is a configuration error."""
        if self.broker_url is not None:
            return self.broker_url
        if self.redis_cluster:
            raise ConfigurationError(
                "REMINDERS_REDIS_CLUSTER=true needs REMINDERS_BROKER_URL: a plain "
                "Redis for the queues (Dramatiq's broker does not support Cluster)"
            )
        return self.redis_url

    def encryption_key_list(self) -> list[str]:
        if self.encryption_keys is None:
            return []
        return [k.strip() for k in self.encryption_keys.get_secret_value().split(",") if k.strip()]
