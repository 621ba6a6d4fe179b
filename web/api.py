"""The agency API under ``/v1``: what agency systems call, with a key each.

Every route takes ``Authorization: Bearer <key>``; a key acts only on its
own agency's paths (403 otherwise, before anything is read or written).
Each request takes a token from the agency's bucket and each deadline
operation counts against its daily quota, both shared by every web process
through Redis (429 with ``Retry-After``). Bodies are validated exactly as
the library validates them; every refusal is a problem document
(:mod:`web.problems`). Handlers are thin: the service does the work.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from reminders.credentials import Unauthenticated
from reminders.errors import ReminderError
from reminders.listing import Page
from reminders.models import AGENCY_PATTERN, REF_PATTERN, Deadline, DeadlineFields, Due
from reminders.views import DeadlineView, ItemResult, Receipt

from .context import WebContext
from .problems import KINDS, Problem

T = TypeVar("T")
MAX_BATCH = 10_000

AgencySlug = Annotated[
    str,
    Path(
        pattern=AGENCY_PATTERN,
        description="L'agence (son identifiant) / The agency's slug",
        examples=["saaq"],
    ),
]
Ref = Annotated[
    str,
    Path(
        pattern=REF_PATTERN,
        description="Votre identifiant du dossier / Your own id of the deadline",
        examples=["permit-2026-00042"],
    ),
]

DEADLINE_EXAMPLE: dict[str, Any] = {
    "due": "2026-12-15T17:00:00-05:00",
    "title": {"fr": "Renouveler votre permis", "en": "Renew your licence"},
    "action_url": "https://example.gouv.qc.ca/renew",
    "citizen": {
        "phone": "+15145550123",
        "email": "a@example.ca",
        "locale": "fr",
        "timezone": "America/Toronto",
    },
    "channels": ["sms", "email", "calendar"],
    "offsets": ["7d", "1d"],
}


class Reschedule(BaseModel):
    """Nouvelle échéance / The new due date."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"due": "2027-01-15"}]}
    )

    due: Due = Field(
        description="Date-heure avec fuseau, ou date (fin de journée) / Aware date-time, or a date"
    )


class CallbackTarget(BaseModel):
    """Où envoyer les rappels d'état / Where status callbacks go."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://agence.example.ca/rappels/evenements"}]},
    )

    url: str = Field(max_length=2048, description="URL https / An https URL")


class CallbackSet(BaseModel):
    """Le secret n'est montré qu'une fois / The secret is shown this once."""

    url: str
    secret: str = Field(description="whsec_…: Standard Webhooks signing secret")


class BatchResults(BaseModel):
    """Un résultat par élément, dans l'ordre / One result per item, in order."""

    results: list[ItemResult]
    accepted: int
    refused: int


PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {
        "description": title,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
    for status, title in (
        (401, "Unauthenticated"),
        (403, "Not your agency"),
        (422, "Invalid"),
        (429, "Too many requests"),
    )
}


def router(ctx: WebContext) -> APIRouter:
    routes = APIRouter(prefix="/v1", responses=PROBLEMS)
    settings = ctx.settings

    async def call(fn: Callable[[], T]) -> T:
        try:
            return await run_in_threadpool(fn)
        except ReminderError as err:
            from .problems import of_error

            raise of_error(err) from None

    def admit(presented: str, agency: str) -> int:
        """The key's agency must be the path's (401/403), then a token from
        the agency's bucket (429); the agency's daily quota. One thread hop."""
        try:
            key = ctx.api_keys.authenticate(presented)
        except Unauthenticated as err:
            raise Problem(
                "unauthenticated", str(err), headers={"WWW-Authenticate": "Bearer"}
            ) from None
        if key.scope != agency:
            raise Problem("forbidden", "this key acts only on its own agency's paths")
        found = ctx.agencies.recent(agency)
        rate = found.rate_per_s or settings.api_rate_per_s
        verdict = ctx.limits.take(
            f"api:{agency}", now=_wall(ctx), rate_per_s=rate, burst=settings.api_burst
        )
        if not verdict.allowed:
            raise _too_many(verdict.retry_after_s, "rate limit")
        return found.daily_quota or settings.api_daily_quota

    async def caller(request: Request, agency: AgencySlug) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            raise Problem(
                "unauthenticated",
                "send Authorization: Bearer <API key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request.state.daily_quota = await run_in_threadpool(admit, presented.strip(), agency)

    # Every route of the API router passes through ``caller`` first.
    routes.dependencies.append(Depends(caller))

    def spend(request: Request, agency: str, operations: int) -> None:
        """Count ``operations`` against the agency's daily quota (429 past it);
        called in the handler's own thread hop, before the work."""
        quota: int = request.state.daily_quota
        verdict = ctx.limits.spend(f"api:{agency}", now=_wall(ctx), amount=operations, quota=quota)
        if not verdict.allowed:
            raise _too_many(verdict.retry_after_s, "daily quota")

    service = ctx.service

    @routes.put(
        "/agencies/{agency}/deadlines/{ref}",
        response_model=Receipt,
        status_code=200,
        summary="Inscrire ou mettre à jour une échéance / Register or update a deadline",
        description=(
            "Idempotent : le même contenu ne change rien; une nouvelle date replanifie les rappels "
            "non envoyés. 201 à la création, 200 sinon.\n\n"
            "Idempotent upsert: the same body again changes nothing; a new due date re-plans the "
            "reminders not yet sent. 201 when created, 200 otherwise."
        ),
        responses={201: {"model": Receipt, "description": "Créée / Created"}},
    )
    async def put_deadline(
        request: Request,
        agency: AgencySlug,
        ref: Ref,
        body: Annotated[DeadlineFields, Body(openapi_examples={"fr": {"value": DEADLINE_EXAMPLE}})],
    ) -> Response:
        deadline = _deadline(agency, ref, body)

        def upsert() -> Receipt:
            spend(request, agency, 1)
            return service.register(deadline)

        receipt = await call(upsert)
        return _json(receipt, 201 if receipt.created else 200)

    @routes.get(
        "/agencies/{agency}/deadlines/{ref}",
        response_model=DeadlineView,
        summary="Lire une échéance / Read a deadline",
        description="L'échéance, ses rappels, leurs états et résultats. / "
        "The deadline with its reminders, their states and outcomes.",
    )
    async def get_deadline(agency: AgencySlug, ref: Ref) -> Response:
        return _json(await call(lambda: service.get(agency, ref)))

    @routes.post(
        "/agencies/{agency}/deadlines/{ref}/reschedule",
        response_model=Receipt,
        summary="Déplacer l'échéance / Move the deadline",
        description="Les rappels non envoyés sont replanifiés. / "
        "Reminders not yet sent are re-planned.",
    )
    async def reschedule(
        request: Request, agency: AgencySlug, ref: Ref, body: Reschedule
    ) -> Response:
        def move() -> Receipt:
            spend(request, agency, 1)
            return service.reschedule(agency, ref, due=body.due)

        return _json(await call(move))

    @routes.post(
        "/agencies/{agency}/deadlines/{ref}/complete",
        response_model=DeadlineView,
        summary="Le citoyen l'a fait / The citizen did it",
        description="Les rappels non envoyés sont annulés. / Reminders not yet sent are skipped.",
    )
    async def complete(request: Request, agency: AgencySlug, ref: Ref) -> Response:
        def done() -> DeadlineView:
            spend(request, agency, 1)
            return service.complete(agency, ref)

        return _json(await call(done))

    @routes.post(
        "/agencies/{agency}/deadlines/{ref}/cancel",
        response_model=DeadlineView,
        summary="L'agence la retire / The agency withdraws it",
        description="Hors de la couverture; les rappels non envoyés sont annulés. / "
        "Out of the coverage figure; reminders not yet sent are skipped.",
    )
    async def cancel(request: Request, agency: AgencySlug, ref: Ref) -> Response:
        def withdrawn() -> DeadlineView:
            spend(request, agency, 1)
            return service.cancel(agency, ref)

        return _json(await call(withdrawn))

    @routes.post(
        "/agencies/{agency}/deadlines/batch",
        response_model=BatchResults,
        summary="Inscrire un lot / Register a batch",
        description=(
            f"Jusqu'à {MAX_BATCH:,} échéances (chacune avec `ref`); un résultat par élément, dans "
            "l'ordre. Un élément refusé n'écrit rien et n'arrête pas les autres.\n\n"
            f"Up to {MAX_BATCH:,} deadlines (each with `ref`); one result per item, in order. A "
            "refused item writes nothing and stops nothing."
        ),
    )
    async def batch(
        request: Request,
        agency: AgencySlug,
        items: Annotated[
            list[dict[str, Any]],
            Body(
                max_length=MAX_BATCH,
                openapi_examples={
                    "fr": {"value": [{"ref": "permit-2026-00042", **DEADLINE_EXAMPLE}]}
                },
            ),
        ],
    ) -> Response:
        tagged = [{**item, "agency": agency} if isinstance(item, dict) else item for item in items]

        def many() -> list[ItemResult]:
            spend(request, agency, max(len(items), 1))
            return service.register_many(tagged)

        results = await call(many)
        accepted = sum(1 for r in results if r.ok)
        body = BatchResults(results=results, accepted=accepted, refused=len(results) - accepted)
        return _json(body)

    @routes.get(
        "/agencies/{agency}/deadlines",
        response_model=Page,
        summary="Lister les échéances / List deadlines",
        description="Par date d'échéance; `cursor` donne la page suivante. / "
        "By due date; `cursor` gives the next page.",
    )
    async def list_deadlines(
        agency: AgencySlug,
        status: Literal["active", "completed", "cancelled"] | None = None,
        due_from: Annotated[
            date | None, Query(description="Première date / First due date")
        ] = None,
        due_to: Annotated[date | None, Query(description="Dernière date / Last due date")] = None,
        cursor: Annotated[str | None, Query(max_length=200)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> Response:
        page = await call(
            lambda: service.deadlines(
                agency, status=status, due_from=due_from, due_to=due_to, cursor=cursor, limit=limit
            )
        )
        return _json(page)

    @routes.get(
        "/agencies/{agency}/coverage",
        summary="Couverture de l'agence / The agency's coverage",
        description="Part des échéances avec un rappel livré à temps, par mois, canal et raison. / "
        "Share of deadlines with a reminder delivered in time, by month, channel and reason.",
    )
    async def coverage(
        agency: AgencySlug,
        start: Annotated[date | None, Query(description="Premier mois / First month")] = None,
        end: Annotated[date | None, Query(description="Dernier mois / Last month")] = None,
    ) -> Response:
        return _json(await call(lambda: service.coverage(agency, start, end)))

    @routes.put(
        "/agencies/{agency}/callback",
        response_model=CallbackSet,
        summary="Recevoir les événements / Receive status callbacks",
        description=(
            "Chaque résultat de rappel et chaque fermeture est envoyé en POST, signé selon "
            "Standard Webhooks. Répond le secret de signature une seule fois (un nouveau à "
            "chaque appel).\n\n"
            "Every reminder outcome and every close is POSTed, signed per Standard Webhooks. "
            "Answers the signing secret once (a new one on every call)."
        ),
    )
    async def set_callback(request: Request, agency: AgencySlug, body: CallbackTarget) -> Response:
        loopback = settings.callback_allow_http_loopback
        secret = await call(
            lambda: ctx.agencies.set_callback(agency, body.url, allow_http_loopback=loopback)
        )
        return _json(CallbackSet(url=body.url, secret=secret))

    return routes


def problem_types() -> APIRouter:
    """``/v1/problems/<slug>``: what each problem type means (no key needed)."""
    routes = APIRouter(prefix="/v1")

    @routes.get("/problems/{slug}", include_in_schema=False)
    async def problem_kind(slug: str) -> Response:
        if slug not in KINDS:
            raise Problem("not-found", "no such problem type")
        status, title, meaning = KINDS[slug]
        return JSONResponse(
            {"type": f"/v1/problems/{slug}", "title": title, "status": status, "meaning": meaning}
        )

    return routes


def _deadline(agency: str, ref: str, fields: DeadlineFields) -> Deadline:
    """The body, validated by FastAPI, with the path's agency and ref (both
    matched against the same patterns as the model's): not validated twice."""
    values = {name: getattr(fields, name) for name in fields.model_fields_set}
    return Deadline.model_construct(
        _fields_set={*values, "agency", "ref"}, **values, agency=agency, ref=ref
    )


def _wall(ctx: WebContext) -> datetime:
    """Real time: limits and quotas count real seconds and days, whatever
    the service's clock (a simulated one in tests and the demo)."""
    return datetime.fromtimestamp(ctx.wall(), UTC)


def _too_many(retry_after_s: int, why: str) -> Problem:
    return Problem(
        "rate-limited",
        f"the agency's {why} is used up; retry after {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


def _json(model: BaseModel, status: int = 200) -> Response:
    return Response(model.model_dump_json(), status, media_type="application/json")
