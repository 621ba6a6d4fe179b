"""What every route needs, built once per app and passed in (nothing global)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from reminders.links import Links
from reminders.outcomes import OutcomeRecorder
from reminders.service import ReminderService

from .metrics import WebMetrics

if TYPE_CHECKING:
    from config.settings import Settings


@dataclass(frozen=True, slots=True)
class WebContext:
    settings: Settings
    service: ReminderService
    outcomes: OutcomeRecorder
    links: Links
    metrics: WebMetrics
    wall: Callable[[], float] = time.time
    """Real time, for replay windows (the service clock may be simulated)."""

    def public(self, path: str, query: str = "") -> str:
        """The URL a provider used to reach ``path``: signatures are computed
        on it, so behind a proxy it is the public address, not ours."""
        url = self.settings.public_url + path
        return f"{url}?{query}" if query else url
