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
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhook
from starlette.concurrency import run_in_threadpool

from channels.sendgrid_email import (
    EVENTS_PATH,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    OptOutEvent,
    event_id,
    read_event,
)
from reminders.errors import InvalidRequest

from .context import WebContext

log = logging.getLogger(__name__)

MAX_EVENTS = 10_000


def router(ctx: WebContext) -> APIRouter:
    routes = APIRouter()
    key = ctx.settings.sendgrid_webhook_public_key
    verifier = None if not key else EventWebhook(key)

    @routes.post(EVENTS_PATH, status_code=204)
    async def events(request: Request) -> Response:
        body = await request.body()
        signature = request.headers.get(SIGNATURE_HEADER, "")
        timestamp = request.headers.get(TIMESTAMP_HEADER, "")
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
    found = event_id(event)
    if found is None:
        return "malformed"
    name = f"sg:{found}"
    if not ctx.claims.claim_once(name, ctx.settings.webhook_dedup_s):
        return "duplicate"
    try:
        return _handle(ctx, event)
    except Exception:
        ctx.claims.release(name)  # SendGrid retries the batch; do it then
        raise


def _handle(ctx: WebContext, event: dict[str, Any]) -> str:
    meaning = read_event(event, ctx.clock.now())
    if isinstance(meaning, OptOutEvent):
        try:
            ctx.service.opt_out("email", meaning.address)
        except InvalidRequest:
            return "malformed"
        return "opted_out"
    if isinstance(meaning, str):
        if meaning == "unknown_event":
            log.info("sendgrid event %r not understood; acknowledged", str(event["event"])[:20])
        return meaning
    if ctx.outcomes.record(meaning) is None:
        return "ignored"
    return meaning.status
