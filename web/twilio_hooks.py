"""Twilio's webhooks: message status callbacks and citizens' replies.

Both are signed with the account's auth token (``X-Twilio-Signature``) over
the public URL and the form fields, and checked with the twilio SDK's own
``RequestValidator``; anything else gets 403. Status callbacks find their
reminder through ``?r=<reminder id>`` in the callback URL we gave Twilio, so
no lookup table is needed; a callback we cannot place is acknowledged and
logged (a 4xx/5xx would only make Twilio retry it).
"""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import RequestValidator
from twilio.twiml.messaging_response import MessagingResponse

from channels.templates import format_due
from reminders.errors import InvalidRequest, ReminderError, SnoozeTooLate
from reminders.keys import split_reminder_id
from reminders.outcomes import DeliveryReport, ReportStatus
from reminders.record import DeadlineRecord
from reminders.replies import MAX_SNOOZE_DAYS, Command, Lang, answer, parse

from .context import WebContext
from .forms import parse_form

log = logging.getLogger(__name__)

STATUSES: dict[str, ReportStatus | None] = {
    "accepted": "accepted",
    "scheduled": "accepted",
    "queued": "accepted",
    "sending": "accepted",
    "sent": "accepted",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "undelivered",
    "canceled": "undelivered",
    "receiving": None,
    "received": None,
}
"""Twilio's MessageStatus values onto report statuses (None: nothing to record)."""

_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")
_CODE = re.compile(r"^\d{1,6}$")
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

    @routes.post("/webhooks/twilio/status", status_code=204)
    async def status(request: Request) -> Response:
        form = await signed_form(request)
        result = await run_in_threadpool(_status, ctx, request.query_params.get("r", ""), form)
        ctx.metrics.webhooks.labels("twilio", result).inc()
        return Response(status_code=204)

    @routes.post("/webhooks/twilio/inbound")
    async def inbound(request: Request) -> Response:
        form = await signed_form(request)
        text = await run_in_threadpool(_reply, ctx, form.get("From", ""), form.get("Body", ""))
        twiml = MessagingResponse()
        twiml.message(text)
        return Response(str(twiml), media_type=XML)

    return routes


def _status(ctx: WebContext, rid: str, form: dict[str, str]) -> str:
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    value = (form.get("MessageStatus") or form.get("SmsStatus") or "").lower()
    if value not in STATUSES:
        log.info("twilio status %r not understood; acknowledged", value[:20])
        return "unknown_status"
    mapped = STATUSES[value]
    if mapped is None:
        return "ignored"
    if not _SID.match(sid) or split_reminder_id(rid) is None:
        log.warning("twilio status callback for no known reminder; acknowledged")
        return "unplaced"
    code = form.get("ErrorCode", "")
    report = DeliveryReport(
        reminder_id=rid,
        provider="twilio",
        provider_id=sid,
        status=mapped,
        at=ctx.service.clock.now(),
        code=code if _CODE.match(code) else "",
    )
    if ctx.outcomes.record(report) is None:
        log.info("twilio %s for reminder=%s changed nothing (duplicate or late)", value, rid)
        return "ignored"
    return mapped


def _reply(ctx: WebContext, sender: str, body: str) -> str:
    """Act on a citizen's reply and say what was done, in their language."""
    command = parse(body)
    ctx.metrics.replies.labels(command.intent).inc()
    service = ctx.service
    try:
        phone_hash = service.address_hash("sms", sender)
    except InvalidRequest:
        # A short code or a malformed sender: nothing to act on.
        return answer("help", command.lang or "fr")
    last = service.store.last_sms(phone_hash)
    record = _record_of(ctx, last)
    # The citizen's own language when we know the number; else the word's.
    lang: Lang = command.lang or "fr"
    if record is not None:
        lang = "en" if record.locale == "en" else "fr"
    if command.intent == "stop":
        service.opt_out("sms", sender)
        return answer("stopped", lang)
    if command.intent == "start":
        service.opt_in("sms", sender)
        return answer("started", lang)
    if command.intent == "snooze":
        return _snooze(ctx, last, command, lang)
    return answer("help", lang)


def _snooze(ctx: WebContext, last: str | None, command: Command, lang: Lang) -> str:
    if not 1 <= command.days <= MAX_SNOOZE_DAYS:
        return answer("bad_days", lang)
    if last is None:
        return answer("nothing", lang)
    service = ctx.service
    try:
        view = service.snooze(last, by=timedelta(days=command.days))
    except SnoozeTooLate:
        record = _record_of(ctx, last)
        if record is None:
            return answer("nothing", lang)
        due = record.due
        now = int(service.clock.now().timestamp())
        room = max((due - 60 - now) // 86400, 0)
        when = format_due(
            datetime.fromtimestamp(due, UTC),
            all_day=record.all_day,
            timezone=record.timezone,
            locale=lang,
        )
        return answer("too_late", lang, days=command.days, due=when, room=room)
    except ReminderError:
        # Closed, unknown, or not in a state that can be snoozed.
        return answer("nothing", lang)
    record = _record_of(ctx, last)
    zone = record.timezone if record is not None else "UTC"
    when = format_due(view.send_at, all_day=False, timezone=zone, locale=lang)
    return answer("snoozed", lang, date=when)


def _record_of(ctx: WebContext, rid: str | None) -> DeadlineRecord | None:
    parts = None if rid is None else split_reminder_id(rid)
    return None if parts is None else ctx.service.store.load(parts[0])
