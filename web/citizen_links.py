"""The snooze and stop links in citizens' messages.

``GET`` only shows a confirmation page and changes nothing: mail scanners
open every link in a message. ``POST`` acts. A link is signed and expires
(:mod:`reminders.links`); a snooze link works once. The stop link also takes
RFC 8058 one-click unsubscribes (``List-Unsubscribe=One-Click``), and opting
out twice is not an error. No path leads to a 500: every failure has a page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from channels.templates import format_due
from reminders.clock import from_epoch, to_epoch
from reminders.errors import DeadlineClosed, InvalidRequest, ReminderNotFound, SnoozeTooLate
from reminders.links import Action, BadLink, ExpiredLink, LinkClaim
from reminders.record import DeadlineRecord
from reminders.service import Found
from reminders.snoozing import MAX_SNOOZE_DAYS, choices

from .context import WebContext
from .forms import parse_form
from .pages import Pages, Text

log = logging.getLogger(__name__)

SNOOZE_CHOICES = (1, 2, 3, 7)
MAX_TOKEN = 256


def router(ctx: WebContext) -> APIRouter:
    routes = APIRouter()
    pages = Pages(ctx.settings.sms_service_name)

    async def run(call: Callable[[], Response]) -> Response:
        return await run_in_threadpool(call)

    @routes.get("/snooze/{token}")
    async def snooze_page(token: str) -> Response:
        return await run(lambda: _snooze_page(ctx, pages, token))

    @routes.post("/snooze/{token}")
    async def snooze(token: str, request: Request) -> Response:
        form = parse_form(await request.body(), max_fields=8, max_value=64)
        return await run(lambda: _snooze(ctx, pages, token, form.get("days", "")))

    @routes.get("/stop/{token}")
    async def stop_page(token: str) -> Response:
        return await run(lambda: _stop_page(ctx, pages, token))

    @routes.post("/stop/{token}/undo")
    async def undo_stop(token: str, request: Request) -> Response:
        parse_form(await request.body(), max_fields=8, max_value=64)
        return await run(lambda: _undo_stop(ctx, pages, token))

    @routes.post("/stop/{token}")
    async def stop(token: str, request: Request) -> Response:
        # The page's button (a form) or a mail client's RFC 8058 one-click
        # POST, which may come as multipart/form-data: the body says nothing
        # more than the link does, so only a form is checked (the body's size
        # is bounded for every route).
        body = await request.body()
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            parse_form(body, max_fields=8, max_value=64)
        return await run(lambda: _stop(ctx, pages, token))

    return routes


class _Refused(Exception):
    def __init__(self, response: Response) -> None:
        self.response = response


def _claim(
    ctx: WebContext, pages: Pages, token: str, action: Action
) -> tuple[LinkClaim, Found, Pages]:
    """The link's claim, its reminder, and the pages naming its agency; or
    :class:`_Refused` with the page that says why not."""
    if len(token) > MAX_TOKEN:
        raise _Refused(pages.problem(400, "Ce lien est invalide.", "This link is not valid."))
    try:
        claim = ctx.links.verify(token, now=ctx.clock.now(), action=action)
    except ExpiredLink as err:
        ctx.metrics.links.labels(action, "bad").inc()
        # Genuine but old: the page still names the agency that sent it.
        old = ctx.service.find(err.reminder_id)
        named = pages.for_agency(None if old is None else _agency(ctx, old.record))
        raise _Refused(named.problem(410, "Ce lien a expiré.", "This link has expired.")) from None
    except BadLink:
        ctx.metrics.links.labels(action, "bad").inc()
        raise _Refused(
            pages.problem(400, "Ce lien est invalide.", "This link is not valid.")
        ) from None
    found = ctx.service.find(claim.reminder_id)
    if found is None:
        raise _Refused(
            pages.problem(404, "Ce rappel n'existe plus.", "This reminder no longer exists.")
        )
    return claim, found, pages.for_agency(_agency(ctx, found.record))


def _heading(record: DeadlineRecord, lang: str) -> list[str]:
    title = record.title.get(lang) or next(iter(record.title.values()))
    due = _when(record.due, record, lang, all_day=record.all_day)
    word = "Échéance" if lang == "fr" else "Due"
    return [title, f"{word} : {due}" if lang == "fr" else f"{word}: {due}"]


def _used_name(token: str) -> str:
    return "link:" + token.rsplit(".", 1)[-1]


def _snooze_page(ctx: WebContext, pages: Pages, token: str) -> Response:
    try:
        _, found, pages = _claim(ctx, pages, token, "snooze")
    except _Refused as refused:
        return refused.response
    record, reminder = found.record, found.reminder
    if record.status != "active":
        return _closed(pages)
    if ctx.claims.was_claimed(_used_name(token)):
        return _used(pages)
    days = choices(record, reminder, ctx.clock.now(), SNOOZE_CHOICES)
    if not days:
        return pages.render(
            Text("Trop tard pour reporter", [*_heading(record, "fr"), "L'échéance est proche."]),
            Text("Too late to snooze", [*_heading(record, "en"), "The deadline is too close."]),
            status=409,
        )
    labels = [(d, {"fr": _days(d, "jour", "Dans"), "en": _days(d, "day", "In")}) for d in days]
    return pages.render(
        Text("Me le rappeler plus tard", _heading(record, "fr")),
        Text("Remind me later", _heading(record, "en")),
        choices=labels,
    )


def _snooze(ctx: WebContext, pages: Pages, token: str, days_text: str) -> Response:
    try:
        claim, found, pages = _claim(ctx, pages, token, "snooze")
    except _Refused as refused:
        return refused.response
    record = found.record
    if not days_text.isdigit() or not 1 <= int(days_text) <= MAX_SNOOZE_DAYS:
        return pages.problem(
            400,
            f"Choisissez un nombre de jours entre 1 et {MAX_SNOOZE_DAYS}.",
            f"Choose from 1 to {MAX_SNOOZE_DAYS} days.",
        )
    claims = ctx.claims
    ttl = int((claim.expires - ctx.clock.now()).total_seconds()) + 60
    name = _used_name(token)
    if not claims.claim_once(name, ttl):
        ctx.metrics.links.labels("snooze", "reused").inc()
        return _used(pages)
    try:
        view = ctx.service.snooze(claim.reminder_id, by=timedelta(days=int(days_text)))
    except SnoozeTooLate:
        claims.release(name)
        ctx.metrics.links.labels("snooze", "too_late").inc()
        return pages.render(
            Text("Trop tard", [*_heading(record, "fr"), "Choisissez moins de jours."]),
            Text("Too late for that", [*_heading(record, "en"), "Choose a shorter delay."]),
            status=409,
        )
    except DeadlineClosed:
        return _closed(pages)
    except (ReminderNotFound, InvalidRequest):
        claims.release(name)
        return pages.problem(
            409, "Ce rappel ne peut pas être reporté.", "This reminder cannot be snoozed."
        )
    except Exception:
        claims.release(name)
        raise
    ctx.metrics.links.labels("snooze", "done").inc()
    at = to_epoch(view.send_at)
    return pages.render(
        Text("C'est noté", [*_heading(record, "fr"), f"Nouvel envoi : {_when(at, record, 'fr')}"]),
        Text("Done", [*_heading(record, "en"), f"New reminder: {_when(at, record, 'en')}"]),
    )


def _stop_page(ctx: WebContext, pages: Pages, token: str) -> Response:
    try:
        _, found, pages = _claim(ctx, pages, token, "stop")
    except _Refused as refused:
        return refused.response
    fr, en = _scope(ctx, found)
    return pages.render(
        Text("Ne plus recevoir ces rappels", [*_heading(found.record, "fr"), fr]),
        Text("Stop these reminders", [*_heading(found.record, "en"), en]),
        confirm={"fr": "Me désabonner", "en": "Unsubscribe me"},
    )


def _scope(ctx: WebContext, found: Found) -> tuple[str, str]:
    """How far a stop goes: one channel, one address, every agency."""
    service = ctx.settings.sms_service_name
    if found.reminder.channel == "sms":
        return (
            f"Vous ne recevrez plus aucun rappel par texto à ce numéro, de tous les "
            f"organismes qui passent par {service}. Les rappels par courriel continuent.",
            f"You will no longer get any reminder by text at this number, from any agency "
            f"that uses {service}. Email reminders go on.",
        )
    return (
        f"Vous ne recevrez plus aucun rappel par courriel à cette adresse, de tous les "
        f"organismes qui passent par {service}. Les rappels par texto continuent.",
        f"You will no longer get any reminder by email at this address, from any agency "
        f"that uses {service}. Text reminders go on.",
    )


def _stop(ctx: WebContext, pages: Pages, token: str) -> Response:
    try:
        _, found, pages = _claim(ctx, pages, token, "stop")
    except _Refused as refused:
        return refused.response
    stopped = ctx.service.stop(found)
    if stopped is None:
        return _gone(pages)
    ctx.metrics.links.labels("stop", "done" if stopped.changed else "reused").inc()
    fr, en = _scope(ctx, found)
    undo = {"fr": "Annuler : recevoir de nouveau", "en": "Undo: get them again"}
    action = f"/stop/{token}/undo"
    if not stopped.changed:
        return pages.render(
            Text("Déjà désabonné", ["Vous ne recevez déjà plus ces rappels.", fr]),
            Text("Already unsubscribed", ["You already no longer get these reminders.", en]),
            confirm=undo,
            action=action,
        )
    return pages.render(
        Text("Désabonnement fait", [fr]),
        Text("You are unsubscribed", [en]),
        confirm=undo,
        action=action,
    )


def _undo_stop(ctx: WebContext, pages: Pages, token: str) -> Response:
    try:
        _, found, pages = _claim(ctx, pages, token, "stop")
    except _Refused as refused:
        return refused.response
    restarted = ctx.service.restart(found)
    if restarted is None:
        return _gone(pages)
    by_fr, by_en = ("texto", "text") if restarted.channel == "sms" else ("courriel", "email")
    return pages.render(
        Text("Rappels rétablis", [f"Vous recevrez de nouveau les rappels par {by_fr}."]),
        Text("Reminders back on", [f"You will get reminders by {by_en} again."]),
    )


def _agency(ctx: WebContext, record: DeadlineRecord) -> dict[str, str] | None:
    """The agency's names, as registered (None when it is not)."""
    return ctx.agencies.display_names(record.agency) or None


def _gone(pages: Pages) -> Response:
    return pages.problem(
        410, "Cette adresse n'est plus au dossier.", "This address is no longer on file."
    )


def _closed(pages: Pages) -> Response:
    return pages.render(
        Text("Plus rien à faire", ["Ce dossier est terminé ou a été retiré : plus de rappels."]),
        Text("Nothing left to do", ["This matter is closed or was withdrawn: no more reminders."]),
        status=410,
    )


def _used(pages: Pages) -> Response:
    return pages.render(
        Text("Lien déjà utilisé", ["Ce lien de report a déjà servi."]),
        Text("Link already used", ["This snooze link has already been used."]),
        status=409,
    )


def _days(count: int, word: str, prefix: str) -> str:
    return f"{prefix} {count} {word}{'s' if count > 1 else ''}"


def _when(epoch: float, record: DeadlineRecord, lang: str, *, all_day: bool = False) -> str:
    return format_due(from_epoch(epoch), all_day=all_day, timezone=record.timezone, locale=lang)
