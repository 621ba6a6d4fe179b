"""Coverage reports as people read them: a rich table, JSON or CSV."""

from __future__ import annotations

import csv
import io
from typing import Literal

from rich.console import Group
from rich.table import Table
from rich.text import Text

from .coverage import REASONS, CoverageReport, Slice

By = Literal["agency", "month", "channel", "reason"]
Shape = Literal["table", "json", "csv"]


def rows(report: CoverageReport, by: By) -> list[dict[str, object]]:
    """One row per agency, month, channel or reason."""
    if by == "reason":
        uncovered = report.in_scope - report.covered
        return [
            {
                "reason": reason,
                "deadlines": count,
                "share_of_gap": None if not uncovered else round(count / uncovered, 4),
            }
            for reason, count in report.reasons.items()
        ]
    if by == "channel":
        return [
            {
                "channel": c.channel,
                "covered_deadlines": c.covered_deadlines,
                "sent": c.sent,
                "delivered": c.delivered,
                "undelivered": c.undelivered,
                "failed": c.failed,
                "no_receipt": c.no_receipt,
                "failure_rate": None if c.failure_rate is None else round(c.failure_rate, 4),
            }
            for c in report.by_channel
        ]
    slices = report.by_agency if by == "agency" else report.by_month
    return [_slice_row(by, s, report.target) for s in slices]


def _slice_row(by: str, part: Slice, target: float) -> dict[str, object]:
    row: dict[str, object] = {
        by: part.key,
        "in_scope": part.in_scope,
        "covered": part.covered,
        "coverage": None if part.rate is None else round(part.rate, 4),
        "met": part.rate is not None and part.rate >= target,
    }
    row.update({reason: part.reasons[reason] for reason in REASONS})
    return row


def as_csv(report: CoverageReport, by: By) -> str:
    table = rows(report, by)
    out = io.StringIO()
    if table:
        writer = csv.DictWriter(out, fieldnames=list(table[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    return out.getvalue()


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate:.1%}"


def as_table(report: CoverageReport, by: By) -> Group:
    """The headline against the target, then the breakdown."""
    met = report.met
    headline = Text.assemble(
        ("Coverage ", "bold"),
        (percent(report.rate), "bold green" if met else "bold red"),
        f" of {report.in_scope:,} deadlines in scope ({report.covered:,} covered, "
        f"{report.withdrawn:,} withdrawn); target {report.target:.0%}: ",
        ("met" if met else "not met", "bold green" if met else "bold red"),
        f"; heading for {percent(report.forecast)} on deadlines not yet past",
    )
    table = Table(title=f"by {by}", title_justify="left")
    data = rows(report, by)
    if by in ("agency", "month"):  # the reasons have their own view (--by reason)
        data = [{k: v for k, v in row.items() if k not in REASONS} for row in data]
    for column in data[0] if data else [by]:
        table.add_column(str(column), justify="left" if column == by else "right")
    for row in data:
        table.add_row(*(_cell(key, value, report.target) for key, value in row.items()))
    return Group(headline, table)


def _cell(key: str, value: object, target: float) -> str:
    if value is None:
        return "n/a"
    if key in ("coverage", "failure_rate", "share_of_gap") and isinstance(value, float):
        text = f"{value:.1%}"
        if key == "coverage":
            return f"[green]{text}[/]" if value >= target else f"[red]{text}[/]"
        return text
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
