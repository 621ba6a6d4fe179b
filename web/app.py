"""The web app: built by :func:`create_app` from the domain's parts."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from reminders.wiring import Core, signed_links

from . import citizen_links, dashboard, sendgrid_hooks, twilio_hooks
from .context import WebContext
from .limits import BodyLimit
from .metrics import CoverageCollector, WebMetrics

log = logging.getLogger(__name__)


def create_app(
    core: Core,
    *,
    metrics: WebMetrics | None = None,
    wall: Callable[[], float] = time.time,
) -> FastAPI:
    """The whole HTTP side for one service; nothing global, nothing shared.

    ``wall`` is real time for replay windows (the service clock may be a
    simulated one in tests and the demo).
    """
    settings = core.settings
    service = core.service
    ctx = WebContext(
        settings=settings,
        service=service,
        outcomes=core.receipts,
        claims=core.claims,
        links=signed_links(settings),
        metrics=metrics or WebMetrics.build(),
        clock=core.clock,
        wall=wall,
    )
    ctx.metrics.registry.register(CoverageCollector(service))
    app = FastAPI(title="Deadline reminders", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    app.include_router(twilio_hooks.router(ctx))
    app.include_router(sendgrid_hooks.router(ctx))
    app.include_router(citizen_links.router(ctx))
    app.include_router(dashboard.router(ctx))

    @app.get("/healthz")
    async def healthz() -> Response:
        try:
            await run_in_threadpool(service.ping)
        except Exception as err:  # any Redis failure means not healthy
            log.warning("healthz: redis unreachable (%s)", type(err).__name__)
            return JSONResponse({"status": "unhealthy", "redis": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "redis": "ok"})

    @app.get("/metrics")
    async def metrics_text() -> Response:
        body = await run_in_threadpool(generate_latest, ctx.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> Response:
        log.error("unhandled %s on %s", type(err).__name__, request.url.path)
        return JSONResponse({"detail": "internal error; it has been logged"}, 500)

    app.add_middleware(BodyLimit, max_bytes=settings.web_max_body_bytes)
    return app
