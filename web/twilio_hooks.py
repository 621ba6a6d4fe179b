"""Twilio's webhooks: message status callbacks and citizens' replies.

Both are signed with the account's auth token (``X-Twilio-Signature``) over
the public URL and the form fields, and checked with the twilio SDK's own
``RequestValidator``; anything else gets 403. What a status callback means is
Twilio's contract, read by :func:`channels.twilio_sms.status_report`; a
callback we cannot place is acknowledged and logged (a 4xx/5xx would only
make Twilio retry it).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from channels.templates import format_due
from channels.twilio_sms import INBOUND_PATH, STATUS_PATH, status_report
from reminders.clock import from_epoch
from reminders.errors import InvalidRequest, ReminderError, SnoozeTooLate
from reminders.replies import MAX_SNOOZE_DAYS, Command, Lang, answer, parse
from reminders.service import Found

from .context import WebContext
from .forms import parse_form

log = logging.getLogger(__name__)

XML = "application/xml"


def router(ctx: WebContext) -> APIRouter:
    routes = APIRouter()
    token = ctx.settings.twilio_auth_token
    validator = None if token is None else RequestValidator(token.get_secret_value())

    async def signed_form(request: Request) -> dict[str, str]:
        form = parse_form(await request.body())
        signature = request.headers.get("x-twilio-signature", "")
        url = ctx.public(request.url.path, request.url.query)
        if validator is None:
            log.warning("twilio webhook refused: REMINDERS_TWILIO_AUTH_TOKEN is not set")
            raise HTTPException(403, "signature cannot be checked")
        if not signature or not validator.validate(url, form, signature):
            ctx.metrics.webhooks.labels("twilio", "forged").inc()
            raise HTTPException(403, "invalid X-Twilio-Signature")
        return form

    @routes.post(STATUS_PATH, status_code=204)
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        result = await run_in_threadpool(_status, ctx, dict(request.query_params), form)
        ctx.metrics.webhooks.labels("twilio", result).inc()
        return Response(status_code=204)

    @routes.post(INBOUND_PATH)
    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        text = await run_in_threadpool(_reply, ctx, form.get("From", ""), form.get("Body", ""))
        twiml = MessagingResponse()
        twiml.message(text)
        return Response(str(twiml), media_type=XML)

    return routes


def _status(ctx: WebContext, query: dict[str, str], form: dict[str, str]) -> str:
    report = status_report(query, form, ctx.clock.now())
    if isinstance(report, str):
        if report == "unknown_status":
            value = form.get("MessageStatus") or form.get("SmsStatus") or ""
            log.info("twilio status %r not understood; acknowledged", value[:20])
        elif report == "unplaced":
            log.warning("twilio status callback for no known reminder; acknowledged")
        return report
    if ctx.outcomes.record(report) is None:
        log.info(
            "twilio %s for reminder=%s changed nothing (duplicate or late)",
            report.status,
            report.reminder_id,
        )
        return "ignored"
    return report.status


def _reply(ctx: WebContext, sender: str, body: str) -> str:
    """Act on a citizen's reply and say what was done, in their language."""
    command = parse(body)
    ctx.metrics.replies.labels(command.intent).inc()
    service = ctx.service
    try:
        last = service.latest_sms(sender)
    except InvalidRequest:
        # A short code or a malformed sender: nothing to act on.
        return _help(ctx, command.lang or "fr")
    # Carrier rules: a keyword is answered in its own language (STOP in
    # English, ARRET in French); the rest in the citizen's, else French.
    citizens: Lang = "en" if last is not None and last.record.locale == "en" else "fr"
    lang: Lang = command.lang or citizens
    service_name = ctx.settings.sms_service_name
    if command.intent == "stop":
        service.opt_out("sms", sender)
        return answer("stopped", lang, service=service_name)
    if command.intent == "start":
        service.opt_in("sms", sender)
        return answer("started", lang, service=service_name)
    if command.intent == "snooze":
        return _snooze(ctx, last, command, citizens)
    return _help(ctx, lang)


def _help(ctx: WebContext, lang: Lang) -> str:
    contact = ctx.settings.sms_help_contact or ctx.settings.public_url
    return answer("help", lang, service=ctx.settings.sms_service_name, contact=contact)


def _snooze(ctx: WebContext, last: Found | None, command: Command, lang: Lang) -> str:
    if not 1 <= command.days <= MAX_SNOOZE_DAYS:
        return answer("bad_days", lang)
    if last is None:
        return answer("nothing", lang)
    record = last.record
    try:
        view = ctx.service.snooze(last.reminder_id, by=timedelta(days=command.days))
    except SnoozeTooLate as err:
        when = format_due(
            from_epoch(record.due),
            all_day=record.all_day,
            timezone=record.timezone,
            locale=lang,
        )
        return answer("too_late", lang, days=command.days, due=when, room=err.room_days)
    except ReminderError:
        # Closed, unknown, or not in a state that can be snoozed.
        return answer("nothing", lang)
    when = format_due(view.send_at, all_day=False, timezone=record.timezone, locale=lang)
    return answer("snoozed", lang, date=when)
