"""The web app's Prometheus figures, on a registry of its own (nothing global)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter


@dataclass(frozen=True, slots=True)
class WebMetrics:
    registry: CollectorRegistry
    webhooks: Counter
    """Webhook events by source and what we did with them."""
    replies: Counter
    """Citizens' SMS replies by intent."""
    links: Counter
    """Snooze and stop link uses by action and result."""

    @classmethod
    def build(cls, registry: CollectorRegistry | None = None) -> WebMetrics:
        registry = registry or CollectorRegistry()
        return cls(
            registry=registry,
            webhooks=Counter(
                "reminders_webhook_events",
                "Provider webhook events by source and result",
                ["source", "result"],
                registry=registry,
            ),
            replies=Counter(
                "reminders_sms_replies",
                "Citizens' SMS replies by intent",
                ["intent"],
                registry=registry,
            ),
            links=Counter(
                "reminders_link_uses",
                "Snooze and stop link uses by action and result",
                ["action", "result"],
                registry=registry,
            ),
        )
