"""SendGrid's signed event webhook: delivery events and unsubscribes.

The batch is verified with the sendgrid SDK's ``EventWebhook`` (ECDSA over
the timestamp and the raw body) and refused when its signature is older than
``REMINDERS_SENDGRID_WEBHOOK_TOLERANCE_S``, so a captured batch cannot be
replayed later. SendGrid delivers at least once and sometimes several copies
of an event: each ``sg_event_id`` is acted on once.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhook
from starlette.concurrency import run_in_threadpool

from reminders.errors import InvalidRequest
from reminders.keys import split_reminder_id
from reminders.outcomes import DeliveryReport, ReportStatus

from .context import WebContext

log = logging.getLogger(__name__)

SIGNATURE = "x-twilio-email-event-webhook-signature"
TIMESTAMP = "x-twilio-email-event-webhook-timestamp"

EVENTS: dict[str, ReportStatus] = {
    "processed": "accepted",
    "delivered": "delivered",
    "bounce": "undelivered",
    "dropped": "undelivered",
}
OPT_OUT_EVENTS = frozenset({"unsubscribe", "group_unsubscribe", "spamreport"})
"""The citizen does not want these emails: the address is opted out."""
NO_ACTION = frozenset({"deferred", "open", "click", "group_resubscribe"})
"""Deferred: SendGrid is still trying; opens and clicks are not tracked."""

_EVENT_ID = re.compile(r"^[A-Za-z0-9_=+/.-]{1,100}$")
_SMTP_STATUS = re.compile(r"^\d\.\d{1,3}\.\d{1,3}$")
MAX_EVENTS = 10_000


def router(ctx: WebContext) -> APIRouter:
    routes = APIRouter()
    key = ctx.settings.sendgrid_webhook_public_key
    verifier = None if not key else EventWebhook(key)

    @routes.post("/webhooks/sendgrid/events", status_code=204)
    async def events(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get(SIGNATURE, "")
        timestamp = request.headers.get(TIMESTAMP, "")
        if verifier is None:
            log.warning("sendgrid webhook refused: REMINDERS_SENDGRID_WEBHOOK_PUBLIC_KEY unset")
            raise HTTPException(403, "signature cannot be checked")
        if not signature or not timestamp.isdigit():
            ctx.metrics.webhooks.labels("sendgrid", "forged").inc()
            raise HTTPException(403, "missing event webhook signature")
        if abs(ctx.wall() - int(timestamp)) > ctx.settings.sendgrid_webhook_tolerance_s:
            ctx.metrics.webhooks.labels("sendgrid", "stale").inc()
            raise HTTPException(403, "signature timestamp outside the allowed window")
        try:
            payload = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "body is not valid UTF-8") from None
        try:
            genuine = verifier.verify_signature(payload, signature, timestamp)
        except Exception:  # a signature that is not even base64/DER
            genuine = False
        if not genuine:
            ctx.metrics.webhooks.labels("sendgrid", "forged").inc()
            raise HTTPException(403, "invalid event webhook signature")
        batch = _batch(payload)
        for result in await run_in_threadpool(_handle_all, ctx, batch):
            ctx.metrics.webhooks.labels("sendgrid", result).inc()
        return Response(status_code=204)

    return routes


def _batch(payload: str) -> list[dict[str, Any]]:
    try:
        batch = json.loads(payload)
    except ValueError:
        raise HTTPException(400, "body is not JSON") from None
    if not isinstance(batch, list) or not all(isinstance(e, dict) for e in batch):
        raise HTTPException(400, "body must be a JSON array of event objects")
    if len(batch) > MAX_EVENTS:
        raise HTTPException(400, f"at most {MAX_EVENTS} events per batch")
    return batch


def _handle_all(ctx: WebContext, batch: list[dict[str, Any]]) -> list[str]:
    return [_once(ctx, event) for event in batch]


def _once(ctx: WebContext, event: dict[str, Any]) -> str:
    event_id = event.get("sg_event_id")
    if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
        return "malformed"
    store = ctx.service.store
    name = f"sg:{event_id}"
    if not store.claim_once(name, ctx.settings.webhook_dedup_s):
        return "duplicate"
    try:
        return _handle(ctx, event)
    except Exception:
        store.release_once(name)  # SendGrid retries the batch; do it then
        raise


def _handle(ctx: WebContext, event: dict[str, Any]) -> str:
    kind = event.get("event")
    if not isinstance(kind, str):
        return "malformed"
    if kind in OPT_OUT_EVENTS:
        address = event.get("email")
        if not isinstance(address, str):
            return "malformed"
        try:
            ctx.service.opt_out("email", address)
        except InvalidRequest:
            return "malformed"
        return "opted_out"
    if kind in NO_ACTION:
        return kind
    status = EVENTS.get(kind)
    if status is None:
        log.info("sendgrid event %r not understood; acknowledged", kind[:20])
        return "unknown_event"
    rid = event.get("reminder_id")
    message_id = event.get("sg_message_id")
    if not isinstance(rid, str) or split_reminder_id(rid) is None:
        return "unplaced"
    # "<X-Message-Id>.filter...": the first part is what the send returned.
    provider_id = message_id.split(".", 1)[0] if isinstance(message_id, str) else ""
    now = ctx.service.clock.now()
    stamp = event.get("timestamp")
    at = now
    if isinstance(stamp, int) and 0 < stamp < now.timestamp():
        at = datetime.fromtimestamp(stamp, UTC)  # when it happened, not when we heard
    smtp = event.get("status")
    code = kind if not (isinstance(smtp, str) and _SMTP_STATUS.match(smtp)) else f"{kind} {smtp}"
    report = DeliveryReport(rid, "sendgrid", provider_id, status, at, code)
    if ctx.outcomes.record(report) is None:
        return "ignored"
    return status
