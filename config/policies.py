"""Loading agency policies from TOML (``config/policies.toml`` by default)."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import ValidationError

from reminders.errors import ConfigurationError
from reminders.models import explain
from reminders.policy import PolicyBook


def load_policies(path: Path | None = None) -> PolicyBook:
    """The policy book in ``path``, or the one shipped with the package."""
    try:
        if path is None:
            text = resources.files("config").joinpath("policies.toml").read_text("utf-8")
            where = "config/policies.toml"
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
