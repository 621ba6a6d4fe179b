"""Errors a channel raises when a provider does not take a message.

ReminderError
└── ChannelError                 (provider, code)
    ├── TransientChannelError    try again later: 429, 5xx, timeouts
    └── PermanentChannelError    this address will not work on this channel
"""

from __future__ import annotations

from reminders.errors import ReminderError


class ChannelError(ReminderError):
    """A provider refused or failed a send; ``code`` is the provider's own."""

    def __init__(self, provider: str, code: str, message: str) -> None:
        super().__init__(f"{provider} {code}: {message}")
        self.provider = provider
        self.code = code


class TransientChannelError(ChannelError):
    """Retry later with backoff (rate limited, provider down, timeout)."""


class PermanentChannelError(ChannelError):
    """Do not retry on this channel; fall back to the next one."""
