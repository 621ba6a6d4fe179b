"""The web app's Prometheus figures, on a registry of its own (nothing global).

Counters count events of this process (webhooks, replies, link uses): they
only go up. What Redis holds (coverage, reminders by outcome) is read at each
scrape as gauges, since a late receipt moves a reminder from one outcome to
another. With several web processes (``reminders web --workers N``) the
counters live in Prometheus' multiprocess files (``PROMETHEUS_MULTIPROC_DIR``,
which the command sets) and every scrape sums all processes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from reminders.service import ReminderService


@dataclass(frozen=True, slots=True)
class WebMetrics:
    registry: CollectorRegistry
    """What a scrape reads."""
    webhooks: Counter
    """Webhook events by source and what we did with them."""
    replies: Counter
    """Citizens' SMS replies by intent."""
    links: Counter
    """Snooze and stop link uses by action and result."""

    @classmethod
    def build(cls, registry: CollectorRegistry | None = None) -> WebMetrics:
        registry = registry or CollectorRegistry()
        exposed = registry
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # The counters' values go to the shared files; a scrape reads
            # every process's from there, not this process's registry.
            exposed = CollectorRegistry()
            MultiProcessCollector(exposed)  # type: ignore[no-untyped-call]
        return cls(
            registry=exposed,
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
        outcomes = GaugeMetricFamily(
            "reminders_reminders_by_outcome",
            "Reminders now in each outcome, by channel (a late receipt moves one)",
            labels=["channel", "outcome"],
        )
        for figures in report.by_channel:
            for name in ("delivered", "undelivered", "failed", "no_receipt"):
                outcomes.add_metric([figures.channel, name], getattr(figures, name))
        yield outcomes
