"""Agency policy: when, how and how often citizens are reminded.

A :class:`PolicyBook` holds the default policy and per-agency overrides; it
is loaded from TOML by :func:`load_policies` (``REMINDERS_POLICY_FILE``, else
the ``policies.toml`` shipped beside this module) and passed to the service.
"""

from __future__ import annotations

import tomllib
from datetime import time, timedelta
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import ConfigurationError
from .models import ChannelName, CleanStr, Duration, check_offsets, explain


class Policy(BaseModel):
    """How one agency's deadlines are reminded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    offsets: tuple[Duration, ...] = (
        timedelta(days=30),
        timedelta(days=7),
        timedelta(days=1),
    )
    channels: tuple[ChannelName, ...] = ("sms", "email", "calendar")
    every_channel: bool = False
    """Send each offset on every reachable channel, not only the first."""
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    min_lead: Duration = timedelta(hours=1)
    """A late registration still gets one reminder if this much time is left."""
    min_spacing: Duration = timedelta(hours=1)
    """No two reminders of one deadline closer than this (per channel)."""
    retention: Duration = timedelta(days=90)
    """How long personal data of a closed deadline is kept."""
    address_failure_ttl: Duration = timedelta(days=90)
    """How long an address a provider reported invalid or unreachable is not
    tried again (on any deadline): the next channel is used instead."""
    max_horizon: Duration = timedelta(days=5 * 365 + 1)
    """How far ahead a deadline may be due (a century-ahead date is a typo)."""
    display_name: dict[str, CleanStr] = Field(default_factory=dict)
    reply_to: CleanStr | None = None

    @field_validator("offsets")
    @classmethod
    def _offsets(cls, value: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        return tuple(check_offsets(list(value)))

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: tuple[ChannelName, ...]) -> tuple[ChannelName, ...]:
        if not value or len(set(value)) != len(value):
            raise ValueError("must name at least one channel, each once")
        return value

    @model_validator(mode="after")
    def _spans(self) -> Policy:
        if self.min_lead < timedelta(0) or self.min_spacing < timedelta(0):
            raise ValueError("min_lead and min_spacing must not be negative")
        if self.quiet_start == self.quiet_end:
            raise ValueError("quiet_start and quiet_end must differ")
        return self


class PolicyBook(BaseModel):
    """The default policy and the agencies that override parts of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default: Policy = Policy()
    agencies: dict[str, Policy] = Field(default_factory=dict)

    def for_agency(self, agency: str) -> Policy:
        return self.agencies.get(agency, self.default)

    @classmethod
    def from_mapping(cls, data: dict[str, object]) -> PolicyBook:
        """Build from ``{"default": {...}, "agencies": {"saaq": {...}}}``;
        each agency's table overrides only the keys it names."""
        default_raw = data.get("default", {})
        agencies_raw = data.get("agencies", {})
        if not isinstance(default_raw, dict) or not isinstance(agencies_raw, dict):
            raise ValueError("policy file: [default] and [agencies.*] must be tables")
        unknown = set(data) - {"default", "agencies"}
        if unknown:
            raise ValueError(f"policy file: unknown top-level keys {sorted(unknown)}")
        default = Policy.model_validate(default_raw)
        agencies = {
            name: Policy.model_validate({**default.model_dump(), **overrides})
            for name, overrides in agencies_raw.items()
        }
        return cls(default=default, agencies=agencies)


def load_policies(path: Path | None = None) -> PolicyBook:
    """The policy book in ``path``, or the default one shipped with the package
    (the repository's ``config/policies.toml`` is that same file)."""
    try:
        if path is None:
            text = resources.files(__package__).joinpath("policies.toml").read_text("utf-8")
            where = "the default policies.toml"
        else:
            text = path.read_text("utf-8")
            where = str(path)
    except OSError as err:
        raise ConfigurationError(
            f"REMINDERS_POLICY_FILE: cannot read {path}: {err.strerror}"
        ) from None
    try:
        return PolicyBook.from_mapping(tomllib.loads(text))
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{where}: not valid TOML: {err}") from None
    except ValidationError as err:
        raise ConfigurationError(f"{where}: {explain(err)}") from None
    except ValueError as err:
        raise ConfigurationError(f"{where}: {err}") from None
