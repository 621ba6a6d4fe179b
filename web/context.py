"""What every route needs, built once per app and passed in (nothing global)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from reminders.agencies import AgencyRegistry
from reminders.clock import Clock
from reminders.credentials import Credentials
from reminders.lifecycle.receipts import OutcomeRecorder
from reminders.links import Links
from reminders.redis.claims import Claims
from reminders.redis.limits import Limits
from reminders.service import ReminderService
from reminders.settings import Settings

from .metrics import WebMetrics


@dataclass(frozen=True, slots=True)
class WebContext:
    settings: Settings
    service: ReminderService
    outcomes: OutcomeRecorder
    claims: Claims
    """Once-only claims: SendGrid event ids, single-use snooze links."""
    links: Links
    metrics: WebMetrics
    clock: Clock
    agencies: AgencyRegistry
    api_keys: Credentials
    staff: Credentials
    limits: Limits
    """API rate limits and quotas, sign-in throttles."""
    """The service's clock (a simulated one in tests and the demo)."""
    wall: Callable[[], float] = time.time
    """Real time, for replay windows."""

    def public(self, path: str, query: str = "") -> str:
        """The URL a provider used to reach ``path``: signatures are computed
        on it, so behind a proxy it is the public address, not ours."""
        url = self.settings.public_url + path
        return f"{url}?{query}" if query else url
