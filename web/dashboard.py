"""The staff dashboard: coverage against the target, in French or English.

Behind ``REMINDERS_STAFF_TOKEN``: staff sign in with it once (a form; the
browser then holds an HttpOnly cookie derived from it, never the token), or
send it as ``Authorization: Bearer``. Without the setting the dashboard is
off. Charts are drawn by Chart.js, served by this app, so the page needs no
network beyond it; every chart has its table beside it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal, format_percent
from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import DictLoader, Environment, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool

from reminders.coverage import CoverageReport, Slice
from reminders.coverage_view import as_csv, rows
from reminders.credentials import ALL
from reminders.errors import InvalidRequest
from reminders.service import ReminderService

from .context import WebContext
from .forms import parse_form
from .staff_gate import COOKIE, StaffGate

STATIC = Path(__file__).with_name("static")

WORDS: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "Couverture des rappels",
        "coverage": "Couverture",
        "target": "Cible",
        "met": "atteinte",
        "not_met": "non atteinte",
        "forecast": "Tendance (échéances à venir)",
        "as_of": "Au",
        "definition": "Couverture : part des échéances visées (non retirées) dont au moins un "
        "rappel a été livré avant l'échéance. Cible : {target}.",
        "capture": "Coordonnées utilisables",
        "capture_help": "part des échéances visées avec un numéro ou un courriel utilisable",
        "grid": "Couverture par organisme et par mois",
        "csv": "Télécharger (CSV)",
        "in_scope": "échéances visées",
        "covered": "couvertes",
        "withdrawn": "retirées",
        "by_month": "Couverture par mois d'échéance",
        "by_agency": "Couverture par organisme",
        "channel_mix": "Canal du premier rappel reçu",
        "reasons_title": "Raisons de l'écart",
        "failures": "Taux d'échec de livraison par canal",
        "deadlines": "Échéances",
        "failure_rate": "Taux d'échec",
        "filter": "Filtrer",
        "agency": "Organisme",
        "all": "tous",
        "from": "Du",
        "to": "Au",
        "sign_in": "Connexion du personnel",
        "token": "Jeton du personnel",
        "enter": "Entrer",
        "other": "English",
        "columns": {
            "month": "Mois d'échéance",
            "agency": "Organisme",
            "channel": "Canal",
            "reason": "Raison",
            "in_scope": "Échéances visées",
            "covered": "Couvertes",
            "coverage": "Couverture",
            "met": "Cible atteinte",
            "deadlines": "Échéances",
            "share_of_gap": "Part de l'écart",
            "covered_deadlines": "Échéances couvertes",
            "sent": "Envoyés",
            "delivered": "Livrés",
            "undelivered": "Non livrés",
            "failed": "En échec",
            "no_receipt": "Sans accusé",
            "failure_rate": "Taux d'échec",
            "no_contact": "Aucune coordonnée",
            "opted_out": "Désabonnés",
            "registered_late": "Inscrites trop tard",
            "completed_early": "Faites avant le rappel",
            "pending": "En cours",
        },
        "channels": {"sms": "Texto", "email": "Courriel", "calendar": "Invitation d'agenda"},
        "none": "s. o.",
        "reasons": {
            "no_contact": "aucune coordonnée",
            "opted_out": "désabonné",
            "registered_late": "inscrite trop tard",
            "completed_early": "faite avant le rappel",
            "failed": "échec",
            "no_receipt": "sans accusé",
            "pending": "en cours",
        },
    },
    "en": {
        "title": "Reminder coverage",
        "coverage": "Coverage",
        "target": "Target",
        "met": "met",
        "not_met": "not met",
        "forecast": "Heading for (deadlines ahead)",
        "as_of": "As of",
        "definition": "Coverage: the share of deadlines in scope (not withdrawn) with at least "
        "one reminder delivered before the deadline. Target: {target}.",
        "capture": "Usable contact details",
        "capture_help": "share of deadlines in scope with a usable phone number or email",
        "grid": "Coverage by agency and month",
        "csv": "Download (CSV)",
        "in_scope": "deadlines in scope",
        "covered": "covered",
        "withdrawn": "withdrawn",
        "by_month": "Coverage by due month",
        "by_agency": "Coverage by agency",
        "channel_mix": "Channel of the first reminder received",
        "reasons_title": "Reasons for the gap",
        "failures": "Delivery failure rate by channel",
        "deadlines": "Deadlines",
        "failure_rate": "Failure rate",
        "filter": "Filter",
        "agency": "Agency",
        "all": "all",
        "from": "From",
        "to": "To",
        "sign_in": "Staff sign-in",
        "token": "Staff token",
        "enter": "Sign in",
        "other": "Français",
        "columns": {
            "month": "Due month",
            "agency": "Agency",
            "channel": "Channel",
            "reason": "Reason",
            "in_scope": "In scope",
            "covered": "Covered",
            "coverage": "Coverage",
            "met": "Target met",
            "deadlines": "Deadlines",
            "share_of_gap": "Share of the gap",
            "covered_deadlines": "Deadlines covered",
            "sent": "Sent",
            "delivered": "Delivered",
            "undelivered": "Undelivered",
            "failed": "Failed",
            "no_receipt": "No receipt",
            "failure_rate": "Failure rate",
            "no_contact": "No contact details",
            "opted_out": "Opted out",
            "registered_late": "Registered too late",
            "completed_early": "Done before a reminder",
            "pending": "Pending",
        },
        "channels": {"sms": "Text message", "email": "Email", "calendar": "Calendar invite"},
        "none": "n/a",
        "reasons": {
            "no_contact": "no contact details",
            "opted_out": "opted out",
            "registered_late": "registered too late",
            "completed_early": "done before a reminder",
            "failed": "failed",
            "no_receipt": "no receipt",
            "pending": "pending",
        },
    },
}

_LAYOUT = """<!doctype html>
<html lang="{{ lang }}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{ w.title }}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem;
       color: #1b1b1b; }
header { display: flex; justify-content: space-between; align-items: baseline; }
.cards { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #ccc; border-radius: .5rem; padding: .75rem 1rem; min-width: 12rem; }
.big { font-size: 2rem; font-weight: bold; }
.met { color: #2e8540; } .not-met { color: #b3261e; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(30rem, 100%), 1fr));
        gap: 1.5rem; }
figure { margin: 0; min-width: 0; } canvas { max-height: 18rem; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; font-size: .85rem; margin-top: .5rem; }
td, th { border-bottom: 1px solid #ddd; padding: .2rem .5rem; text-align: right; }
td:first-child, th:first-child { text-align: left; }
details { margin-top: .25rem; }
form.filter { margin: 1rem 0; display: flex; gap: .75rem; align-items: end; flex-wrap: wrap; }
</style>
</head>
<body>
{% block body %}{% endblock %}
</body>
</html>
"""

_LOGIN = """{% extends "layout.html" %}{% block body %}
<h1>{{ w.sign_in }}</h1>
{% if wrong %}<p class="not-met" role="alert">{{ wrong }}</p>{% endif %}
<form method="post" action="/dashboard/login?lang={{ lang }}">
<label>{{ w.token }} <input type="password" name="token" autocomplete="current-password"></label>
<button type="submit">{{ w.enter }}</button>
</form>
{% endblock %}"""

_DASHBOARD = """{% extends "layout.html" %}{% block body %}
<header><h1>{{ w.title }}</h1>{% if offline %}<a href="{{ offline(other_lang, agency) }}"
 lang="{{ other_lang }}">{{ w.other }}</a>{% else %}<a href="?{{ other_query }}"
 lang="{{ other_lang }}">{{ w.other }}</a>{% endif %}</header>
{% if offline %}<nav class="filter" aria-label="{{ w.agency }}">{{ w.agency }} :
<a href="{{ offline(lang, '') }}"{% if not agency %} aria-current="page"{% endif %}>{{ w.all }}</a>
{% for a in agencies %}· <a href="{{ offline(lang, a) }}"{% if a == agency %}
 aria-current="page"{% endif %}>{{ f.label("agency", a) }}</a>
{% endfor %}</nav>{% else %}
<form class="filter" method="get">
<input type="hidden" name="lang" value="{{ lang }}">
<label>{{ w.agency }} <select name="agency"><option value="">{{ w.all }}</option>
{% for a in agencies %}<option value="{{ a }}"{% if a == agency %} selected{% endif %}>{{
  f.label("agency", a) }}</option>{% endfor %}
</select></label>
<label>{{ w.from }} <input type="date" name="from" value="{{ start or '' }}"></label>
<label>{{ w.to }} <input type="date" name="to" value="{{ end or '' }}"></label>
<button type="submit">{{ w.filter }}</button>
</form>{% endif %}
<p id="as-of">{{ w.as_of }} {{ f.when(now) }} ·
{{ w.definition.format(target=f.pct(report.target)) }}</p>
<section class="cards">
<div class="card"><div>{{ w.coverage }}</div>
<div class="big {{ 'met' if report.met else 'not-met' }}" id="coverage">{{
  f.pct(report.rate) }}</div>
<div>{{ w.target }} {{ f.pct(report.target) }}{{ " :" if lang == "fr" else ":" }}
<strong id="verdict">{{ w.met if report.met else w.not_met }}</strong></div></div>
<div class="card"><div>{{ w.forecast }}</div>
<div class="big" id="forecast">{{ f.pct(report.forecast) }}</div></div>
<div class="card"><div>{{ w.capture }}</div>
<div class="big" id="capture">{{ f.pct(capture) }}</div><div>{{ w.capture_help }}</div></div>
<div class="card"><div class="big">{{ f.num(report.in_scope) }}</div>
<div>{{ w.in_scope }} · {{ f.num(report.covered) }} {{ w.covered }} ·
{{ f.num(report.withdrawn) }} {{ w.withdrawn }}</div></div>
</section>
<section class="grid">
{% for id, heading, by in charts %}
<figure><h2>{{ heading }}</h2><canvas id="{{ id }}" role="img" aria-label="{{ heading }}"></canvas>
<details><summary>{{ heading }} (table)</summary><div class="scroll" tabindex="0">
<table>{% set data = tables[by] %}{% if data %}
<tr>{% for k in data[0] %}<th scope="col">{{ w.columns.get(k, k) }}</th>{% endfor %}</tr>
{% for row in data %}
<tr>{% for k, v in row.items() %}<td>{{ f.cell(k, v) }}</td>{% endfor %}</tr>
{% endfor %}{% endif %}
</table></div>{% if not inline %}<a href="/dashboard/export.csv?by={{ by }}{{
  '&' ~ filter_query if filter_query }}" download>{{ w.csv }}</a>{% endif %}</details></figure>
{% endfor %}
</section>
{% if grid %}<section><h2>{{ w.grid }}</h2><div class="scroll" tabindex="0"><table id="grid">
<tr><th scope="col">{{ w.columns.agency }}</th>{% for m in grid_months %}<th scope="col">{{
  f.label("month", m) }}</th>{% endfor %}</tr>
{% for slug, months in grid.items() %}<tr><th scope="row">{{ f.label("agency", slug) }}</th>
{% for m in grid_months %}<td>{% if m in months %}{{ f.pct(months[m].rate) }}{% else %}–{% endif
%}</td>
{% endfor %}</tr>{% endfor %}
</table></div>{% if not inline %}<a href="/dashboard/export.csv?by=grid{{
  '&' ~ filter_query if filter_query }}" download>{{ w.csv }}</a>{% endif %}</section>{% endif %}
<script type="application/json" id="report">{{ report_json|safe }}</script>
<script type="application/json" id="words">{{ words_json|safe }}</script>
{% if inline %}<script>{{ inline.chart|safe }}</script>
<script>{{ inline.dashboard|safe }}</script>{% else %}
<script src="/static/chart.umd.min.js"></script>
<script src="/static/dashboard.js"></script>{% endif %}
{% endblock %}"""

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class Dashboard:
    """Renders the dashboard pages; build once per app."""

    def __init__(self) -> None:
        self._env = Environment(
            loader=DictLoader(
                {"layout.html": _LAYOUT, "login.html": _LOGIN, "dashboard.html": _DASHBOARD}
            ),
            autoescape=select_autoescape(default=True),
            undefined=StrictUndefined,
        )

    def login(
        self, lang: str, wrong: str = "", status: int = 200, *, retry_after: int = 0
    ) -> HTMLResponse:
        html = self._env.get_template("login.html").render(lang=lang, w=WORDS[lang], wrong=wrong)
        answer = _html(html, status)
        if retry_after:
            answer.headers["Retry-After"] = str(retry_after)
        return answer

    def page(
        self,
        lang: str,
        report: CoverageReport,
        agencies: list[str],
        query: dict[str, str],
        names: dict[str, dict[str, str]] | None = None,
        grid: dict[str, list[Slice]] | None = None,
        now: datetime | None = None,
    ) -> HTMLResponse:
        page = self.html(lang, report, agencies, query, names=names, grid=grid, now=now)
        return _html(page, 200)

    def html(
        self,
        lang: str,
        report: CoverageReport,
        agencies: list[str],
        query: dict[str, str],
        *,
        standalone: bool = False,
        names: dict[str, dict[str, str]] | None = None,
        grid: dict[str, list[Slice]] | None = None,
        now: datetime | None = None,
        offline: Callable[[str, str], str] | None = None,
    ) -> str:
        """The page; ``standalone`` inlines the scripts, for a report file
        opened without any server, and ``offline(lang, agency)`` names the
        sibling file of each language and agency (the filter and the
        language switch are then links between files). ``names``: each
        agency's names, by slug."""
        w = WORDS[lang]
        f = Formats(lang, names or {})
        charts = [
            ("by-month", w["by_month"], "month"),
            ("by-agency", w["by_agency"], "agency"),
            ("channel-mix", w["channel_mix"], "channel"),
            ("reasons", w["reasons_title"], "reason"),
            ("failures", w["failures"], "channel"),
        ]
        other = {**query, "lang": "en" if lang == "fr" else "fr"}
        inline = None
        if standalone:
            inline = {
                "chart": (STATIC / "chart.umd.min.js").read_text(encoding="utf-8"),
                "dashboard": (STATIC / "dashboard.js").read_text(encoding="utf-8"),
            }
        return self._env.get_template("dashboard.html").render(
            inline=inline,
            offline=offline,
            other_lang="en" if lang == "fr" else "fr",
            lang=lang,
            w=w,
            report=report,
            agencies=agencies,
            agency=query.get("agency", ""),
            start=query.get("from"),
            end=query.get("to"),
            charts=charts,
            tables={by: rows(report, by) for by in ("month", "agency", "channel", "reason")},
            f=f,
            other_query="&".join(f"{k}={v}" for k, v in other.items() if v),
            filter_query=urlencode({k: v for k, v in query.items() if k != "lang" and v}),
            capture=capture_rate(report),
            grid={slug: {s.key: s for s in months} for slug, months in (grid or {}).items()},
            grid_months=sorted({s.key for months in (grid or {}).values() for s in months}),
            now=now or datetime.now(UTC),
            # JSON inside <script type="application/json">: "<" escaped so no
            # value can close the element.
            report_json=_embed({"report": report.model_dump(mode="json")}),
            words_json=_embed({**w, "labels": f.labels(report), "locale": f"{lang}-CA"}),
        )


def router(ctx: WebContext) -> APIRouter:
    routes = APIRouter()
    pages = Dashboard()
    settings = ctx.settings
    gate = StaffGate(ctx)
    scope_of = gate.scope_of

    def language(request: Request) -> str:
        lang = request.query_params.get("lang", "fr")
        return lang if lang in WORDS else "fr"

    @routes.get("/dashboard")
    async def dashboard(request: Request) -> Response:
        lang = language(request)
        scope = await run_in_threadpool(scope_of, request)
        if isinstance(scope, int):
            return pages.login(lang, _wait_text(lang, scope), 429, retry_after=scope)
        if scope is None:
            return pages.login(lang, status=401)
        query = {k: request.query_params.get(k, "") for k in ("lang", "agency", "from", "to")}
        try:
            report, agencies = await run_in_threadpool(_report, ctx, query, scope)
            names = await run_in_threadpool(
                lambda: {slug: ctx.agencies.display_names(slug) for slug in agencies}
            )
            grid = await run_in_threadpool(_grid, ctx, query, scope)
        except InvalidRequest as err:
            return _bad(str(err))
        except OtherAgency:
            return _forbidden()
        return pages.page(lang, report, agencies, query, names, grid, ctx.clock.now())

    @routes.get("/dashboard/export.csv")
    async def export(request: Request) -> Response:
        """Every table of the dashboard as CSV (``by``: month, agency,
        channel, reason or grid), with the page's filters."""
        scope = await run_in_threadpool(scope_of, request)
        if scope is None or isinstance(scope, int):
            return JSONResponse({"detail": "staff sign-in required"}, 401)
        by = request.query_params.get("by", "month")
        if by not in ("month", "agency", "channel", "reason", "grid"):
            return _bad("by: must be month, agency, channel, reason or grid")
        query = {k: request.query_params.get(k, "") for k in ("agency", "from", "to")}
        try:
            if by == "grid":
                grid = await run_in_threadpool(_grid, ctx, query, scope)
                text = grid_csv(grid)
            else:
                report, _ = await run_in_threadpool(_report, ctx, query, scope)
                text = as_csv(report, by)  # type: ignore[arg-type]
        except InvalidRequest as err:
            return _bad(str(err))
        except OtherAgency:
            return _forbidden()
        disposition = f'attachment; filename="coverage-by-{by}.csv"'
        return Response(
            text,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
        )

    @routes.get("/dashboard/data.json")
    async def data(request: Request) -> Response:
        scope = await run_in_threadpool(scope_of, request)
        if isinstance(scope, int):
            return JSONResponse(
                {"detail": "too many failed sign-ins"}, 429, headers={"Retry-After": str(scope)}
            )
        if scope is None:
            return JSONResponse({"detail": "staff sign-in required"}, 401)
        query = {k: request.query_params.get(k, "") for k in ("agency", "from", "to")}
        try:
            report, _ = await run_in_threadpool(_report, ctx, query, scope)
        except InvalidRequest as err:
            return _bad(str(err))
        except OtherAgency:
            return _forbidden()
        return JSONResponse(report.model_dump(mode="json"))

    @routes.post("/dashboard/login")
    async def login(request: Request) -> Response:
        lang = language(request)
        form = parse_form(await request.body(), max_fields=4, max_value=512)
        presented = form.get("token", "").strip()
        outcome = await run_in_threadpool(gate.sign_in, request, presented)
        if isinstance(outcome, int):
            return pages.login(lang, _wait_text(lang, outcome), 429, retry_after=outcome)
        if outcome is None:
            wrong = "Jeton invalide." if lang == "fr" else "Wrong token."
            return pages.login(lang, wrong, 401)
        answer = RedirectResponse(f"/dashboard?lang={lang}", status_code=303)
        answer.set_cookie(
            COOKIE,
            outcome,
            httponly=True,
            samesite="strict",
            secure=settings.public_url.startswith("https://"),
            max_age=settings.staff_session_s,
            path="/dashboard",
        )
        return answer

    @routes.get("/static/{name}")
    async def static(name: str) -> Response:
        files = {"chart.umd.min.js", "dashboard.js"}
        if name not in files:
            return Response(status_code=404)
        body = (STATIC / name).read_bytes()
        return Response(
            body,
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=3600"},
        )

    return routes


class OtherAgency(Exception):
    """Staff of one agency asked for another's figures."""


def _report(ctx: WebContext, query: dict[str, str], scope: str) -> tuple[CoverageReport, list[str]]:
    start = _date("from", query.get("from", ""))
    end = _date("to", query.get("to", ""))
    agency = query.get("agency") or None
    if scope != ALL:
        if agency is not None and agency != scope:
            raise OtherAgency(agency)
        agency = scope
    report = ctx.service.coverage(agency, start, end)
    if scope != ALL:
        return report, [scope]
    # The filter lists every agency; the unfiltered report already has them.
    whole = report if agency is None and start is None and end is None else ctx.service.coverage()
    return report, [s.key for s in whole.by_agency]


def _grid(ctx: WebContext, query: dict[str, str], scope: str) -> dict[str, list[Slice]]:
    """Coverage by agency and month, within the staff member's scope."""
    start = _date("from", query.get("from", ""))
    end = _date("to", query.get("to", ""))
    grid = ctx.service.coverage_grid(start, end)
    wanted = scope if scope != ALL else (query.get("agency") or None)
    return grid if wanted is None else {k: v for k, v in grid.items() if k == wanted}


def capture_rate(report: CoverageReport) -> float | None:
    """Share of the deadlines in scope with a usable phone number or email."""
    if not report.in_scope:
        return None
    return 1 - report.reasons.get("no_contact", 0) / report.in_scope


def grid_csv(grid: dict[str, list[Slice]]) -> str:
    """agency, month, in scope, covered, coverage: one line per cell."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["agency", "month", "in_scope", "covered", "coverage"])
    for agency, months in grid.items():
        for part in months:
            rate = "" if part.rate is None else round(part.rate, 4)
            writer.writerow([agency, part.key, part.in_scope, part.covered, rate])
    return out.getvalue()


def _wait_text(lang: str, seconds: int) -> str:
    minutes = max(1, -(-seconds // 60))
    if lang == "en":
        return f"Too many failed attempts: try again in {minutes} min."
    return f"Trop d'essais ratés : réessayez dans {minutes} min."


def _forbidden() -> Response:
    return JSONResponse({"detail": "your sign-in covers another agency"}, 403)


def _date(name: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(name, "must be a date, YYYY-MM-DD") from None


def _embed(value: object) -> str:
    return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c")


class Formats:
    """Numbers, percentages, months and names as a reader of ``lang`` in
    Canada writes them (Babel's CLDR data): ``33,3 %`` and ``1 234`` in
    French, ``33.3%`` and ``1,234`` in English."""

    PERCENT = "#,##0.0 %"

    def __init__(self, lang: str, names: dict[str, dict[str, str]]) -> None:
        self.lang = lang
        self.locale = Locale.parse(f"{lang}_CA")
        self.names = names
        self.words = WORDS[lang]

    def when(self, at: datetime) -> str:
        """A moment in Montréal's time, as the reader writes it."""
        local = at.astimezone(ZoneInfo("America/Toronto"))
        return str(format_datetime(local, "d MMMM y HH:mm zzz", locale=self.locale))

    def num(self, value: int) -> str:
        return str(format_decimal(value, locale=self.locale))

    def pct(self, rate: float | None) -> str:
        if rate is None:
            return str(self.words["none"])
        pattern = self.PERCENT if self.lang == "fr" else "#,##0.0%"
        return str(format_percent(rate, pattern, locale=self.locale))

    def label(self, by: str, key: str) -> str:
        """An agency's name, a channel's, a reason's, a month written out."""
        if by == "agency":
            return self.names.get(key, {}).get(self.lang) or key
        if by == "channel":
            return str(self.words["channels"].get(key, key))
        if by == "reason":
            return str(self.words["reasons"].get(key, key))
        if by == "month":
            try:
                year, month = (int(part) for part in key.split("-"))
            except ValueError:
                return key
            return str(format_date(date(year, month, 1), "MMMM y", locale=self.locale))
        return key

    def cell(self, key: str, value: object) -> str:
        if value is None:
            return str(self.words["none"])
        if key in ("agency", "channel", "reason", "month") and isinstance(value, str):
            return self.label(key, value)
        if isinstance(value, bool):
            return "✓" if value else "✗"
        if isinstance(value, float):
            return self.pct(value)
        if isinstance(value, int):
            return self.num(value)
        return str(value)

    def labels(self, report: CoverageReport) -> dict[str, dict[str, str]]:
        """The charts' labels, for the page's script."""
        return {
            "month": {s.key: self.label("month", s.key) for s in report.by_month},
            "agency": {s.key: self.label("agency", s.key) for s in report.by_agency},
            "channel": {c.channel: self.label("channel", c.channel) for c in report.by_channel},
        }


def _html(html: str, status: int) -> HTMLResponse:
    headers = {
        "Cache-Control": "no-store",
        "Content-Security-Policy": CSP,
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def _bad(message: str) -> Response:
    return JSONResponse({"detail": message}, 400)


def report_files(
    service: ReminderService,
    folder: Path,
    stem: str,
    names: dict[str, dict[str, str]] | None = None,
) -> Path:
    """The dashboard as standalone files that work offline: one per
    language and agency (``stem.html`` is French, every agency), linked to
    each other by the language switch and the agency filter. Returns the
    main file."""
    whole = service.coverage()
    agencies = [s.key for s in whole.by_agency]

    def offline(lang: str, agency: str) -> str:
        parts = [stem] + (["en"] if lang == "en" else []) + ([agency] if agency else [])
        return ".".join(parts) + ".html"

    pages = Dashboard()
    for lang in ("fr", "en"):
        for agency in ["", *agencies]:
            report = whole if not agency else service.coverage(agency)
            html = pages.html(
                lang,
                report,
                agencies,
                {"lang": lang, "agency": agency},
                standalone=True,
                names=names,
                grid=service.coverage_grid(),
                offline=offline,
            )
            (folder / offline(lang, agency)).write_text(html, encoding="utf-8")
    return folder / offline("fr", "")
