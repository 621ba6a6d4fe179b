"""The web app's Prometheus figures, on a registry of its own (nothing global)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reminders.service import ReminderService


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


class CoverageCollector(Collector):
    """Coverage read from the counters at each scrape (O(agencies x months))."""

    def __init__(self, service: ReminderService) -> None:
        self.service = service

    def collect(self) -> Iterator[Metric]:
        report = self.service.coverage()
        target = GaugeMetricFamily(
            "reminders_coverage_target", "Share of deadlines that should be covered"
        )
        target.add_metric([], report.target)
        yield target
        ratio = GaugeMetricFamily(
            "reminders_coverage_ratio",
            "Deadlines with a reminder delivered in time / deadlines in scope",
            labels=["agency"],
        )
        in_scope = GaugeMetricFamily(
            "reminders_deadlines_in_scope", "Deadlines in scope", labels=["agency"]
        )
        covered = GaugeMetricFamily(
            "reminders_deadlines_covered", "Deadlines covered", labels=["agency"]
        )
        uncovered = GaugeMetricFamily(
            "reminders_deadlines_uncovered",
            "Uncovered deadlines by reason",
            labels=["agency", "reason"],
        )
        for part in report.by_agency:
            if part.rate is not None:
                ratio.add_metric([part.key], part.rate)
            in_scope.add_metric([part.key], part.in_scope)
            covered.add_metric([part.key], part.covered)
            for reason, count in part.reasons.items():
                uncovered.add_metric([part.key, reason], count)
        yield from (ratio, in_scope, covered, uncovered)
        outcomes = CounterMetricFamily(
            "reminders_reminder_outcomes",
            "Reminders that reached each outcome, by channel",
            labels=["channel", "outcome"],
        )
        for figures in report.by_channel:
            for name in ("delivered", "undelivered", "failed", "no_receipt"):
                outcomes.add_metric([figures.channel, name], getattr(figures, name))
        yield outcomes
