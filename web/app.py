"""The web app: built by :func:`create_app` from the domain's parts."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Callable

import redis
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from reminders.errors import Unavailable
from reminders.wiring import Core, signed_links

from . import api, citizen_links, dashboard, problems, sendgrid_hooks, twilio_hooks
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
        agencies=core.agencies,
        api_keys=core.api_keys,
        staff=core.staff,
        limits=core.limits,
        wall=wall,
    )
    ctx.metrics.registry.register(CoverageCollector(service))
    app = FastAPI(
        title="Rappels d'échéances / Deadline reminders",
        version="1",
        description=API_DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/v1/openapi.json",
    )
    app.state.ctx = ctx
    app.include_router(api.router(ctx))
    app.include_router(api.problem_types())
    for part in (twilio_hooks, sendgrid_hooks, citizen_links, dashboard):
        app.include_router(part.router(ctx), include_in_schema=False)
    metrics_token = settings.metrics_token

    @app.exception_handler(problems.Problem)
    async def problem(request: Request, err: problems.Problem) -> Response:
        return problems.response(err)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> Response:
        if problems.is_api(request):
            return problems.response(problems.of_validation(err))
        return JSONResponse({"detail": "invalid request"}, 422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> Response:
        if problems.is_api(request):
            return problems.response(problems.of_http(err))
        return JSONResponse({"detail": err.detail}, err.status_code, headers=err.headers)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        try:
            await run_in_threadpool(service.ping)
        except Exception as err:  # any Redis failure means not healthy
            log.warning("healthz: redis unreachable (%s)", type(err).__name__)
            return JSONResponse({"status": "unhealthy", "redis": "unreachable"}, 503)
        return JSONResponse({"status": "ok", "redis": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_text(request: Request) -> Response:
        if not _may_scrape(request, metrics_token.get_secret_value() if metrics_token else None):
            return JSONResponse({"detail": "metrics need their bearer token"}, 401)
        body = await run_in_threadpool(generate_latest, ctx.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @app.exception_handler(Unavailable)
    @app.exception_handler(redis.RedisError)
    async def redis_down(request: Request, err: Exception) -> Response:
        log.warning("redis unavailable on %s (%s)", request.url.path, type(err).__name__)
        if problems.is_api(request):
            return problems.response(problems.unavailable())
        headers = {"Retry-After": "5"}
        return JSONResponse({"detail": "Redis does not answer; try again shortly"}, 503, headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, err: Exception) -> Response:
        log.error("unhandled %s on %s", type(err).__name__, request.url.path)
        if problems.is_api(request):
            return problems.response(problems.Problem("internal", "it has been logged"))
        return JSONResponse({"detail": "internal error; it has been logged"}, 500)

    app.add_middleware(
        BodyLimit,
        max_bytes=settings.web_max_body_bytes,
        larger={"/v1/": settings.api_max_body_bytes},
    )
    return app


API_DESCRIPTION = """
**Français.** L'API des agences : inscrire, mettre à jour, compléter ou annuler les échéances
des citoyens, lire leurs rappels et la couverture de l'agence, recevoir les événements. Chaque
requête porte `Authorization: Bearer <clé>` ; une clé n'agit que sur les chemins de son agence.
Les refus sont des documents de problème (RFC 9457).

**English.** The agencies' API: register, update, complete or cancel citizens' deadlines, read
their reminders and the agency's coverage, receive status callbacks. Every request carries
`Authorization: Bearer <key>`; a key acts only on its own agency's paths. Refusals are problem
documents (RFC 9457).
"""


def _may_scrape(request: Request, token: str | None) -> bool:
    """With a metrics token, its bearer; without one, loopback clients only."""
    if token is not None:
        header = request.headers.get("authorization", "")
        return header.startswith("Bearer ") and hmac.compare_digest(
            header[7:].encode(), token.encode()
        )
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
