"""RFC 9457 problem documents for the agency API.

Every refusal under ``/v1`` is ``application/problem+json``: ``type`` (a
URI reference to ``/v1/problems/<slug>``, which describes it), ``title``,
``status`` and ``detail``, plus ``errors`` (one per field) for 422. No
problem repeats what was sent: messages name the field, never its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from reminders.agencies import AgencyNotFound, AgencyNotRegistered
from reminders.credentials import Unauthenticated
from reminders.errors import (
    ConflictError,
    DeadlineClosed,
    DeadlineNotFound,
    DeadlinePassed,
    InvalidRequest,
    NotFound,
    ReminderError,
    ReminderNotFound,
    SnoozeTooLate,
    Unavailable,
)

MEDIA_TYPE = "application/problem+json"

KINDS: dict[str, tuple[int, str, str]] = {
    # slug: (status, title, what it means, for /v1/problems/<slug>)
    "unauthenticated": (
        401,
        "Authentication required",
        "No API key, a malformed one, an unknown one or a revoked one. Send "
        "`Authorization: Bearer rk_...` with a key of your agency.",
    ),
    "forbidden": (
        403,
        "Not your agency",
        "The key is valid but belongs to another agency: a key acts only on "
        "its own agency's paths. Nothing was read or written.",
    ),
    "not-found": (404, "Not found", "No such resource."),
    "deadline-not-found": (
        404,
        "Deadline not found",
        "No deadline with that ref is registered for this agency.",
    ),
    "reminder-not-found": (404, "Reminder not found", "No reminder has that id."),
    "method-not-allowed": (405, "Method not allowed", "This path does not take that method."),
    "deadline-closed": (
        409,
        "Deadline closed",
        "The deadline was completed or cancelled: it cannot change any more.",
    ),
    "conflict": (
        409,
        "Conflict",
        "The deadline kept changing under concurrent writers; send the request again.",
    ),
    "body-too-large": (413, "Body too large", "The request body is over the size limit."),
    "unsupported-media-type": (
        415,
        "Unsupported media type",
        "Send JSON (`Content-Type: application/json`).",
    ),
    "invalid-request": (
        422,
        "Invalid request",
        "A field of the request is refused; `errors` names each one and why.",
    ),
    "deadline-passed": (422, "Deadline passed", "The due instant is not in the future."),
    "snooze-too-late": (
        422,
        "Snooze too late",
        "Snoozing by that much would land after the deadline.",
    ),
    "rate-limited": (
        429,
        "Too many requests",
        "The agency's rate limit or daily quota is used up; wait `Retry-After` seconds.",
    ),
    "unavailable": (
        503,
        "Service unavailable",
        "A part the service needs (Redis) is not answering; try again shortly.",
    ),
    "internal": (500, "Internal error", "Something failed on our side; it has been logged."),
}


class Problem(Exception):
    """A refusal, answered as a problem document."""

    def __init__(
        self,
        slug: str,
        detail: str,
        *,
        errors: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.slug = slug
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}
        self.status = status or KINDS[slug][0]


def response(problem: Problem) -> JSONResponse:
    _, title, _ = KINDS[problem.slug]
    body: dict[str, Any] = {
        "type": f"/v1/problems/{problem.slug}",
        "title": title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = problem.errors
    return JSONResponse(body, problem.status, headers=problem.headers, media_type=MEDIA_TYPE)


def of_error(err: ReminderError) -> Problem:
    """The problem for an error of the service (messages name fields only)."""
    if isinstance(err, DeadlineNotFound):
        return Problem("deadline-not-found", "no deadline with that ref for this agency")
    if isinstance(err, ReminderNotFound):
        return Problem("reminder-not-found", "no reminder with that id")
    if isinstance(err, AgencyNotFound | AgencyNotRegistered):
        return Problem("not-found", "no such agency")
    if isinstance(err, NotFound):
        return Problem("not-found", "not found")
    if isinstance(err, DeadlineClosed):
        return Problem("deadline-closed", f"the deadline is {err.status}")
    if isinstance(err, ConflictError):
        return Problem("conflict", "the deadline kept changing; send the request again")
    if isinstance(err, Unauthenticated):
        return Problem("unauthenticated", str(err), headers={"WWW-Authenticate": "Bearer"})
    if isinstance(err, Unavailable):
        return unavailable()
    if isinstance(err, DeadlinePassed):
        return _field("deadline-passed", err)
    if isinstance(err, SnoozeTooLate):
        return _field("snooze-too-late", err)
    if isinstance(err, InvalidRequest):
        return _field("invalid-request", err)
    return Problem("internal", "the request could not be done")


def unavailable() -> Problem:
    return Problem("unavailable", "Redis does not answer", headers={"Retry-After": "5"})


def _field(slug: str, err: InvalidRequest) -> Problem:
    return Problem(slug, str(err), errors=[{"field": err.field, "message": err.reason}])


def of_validation(err: RequestValidationError) -> Problem:
    """422 naming each refused field (``citizen.phone``), never its value."""
    errors: list[dict[str, str]] = []
    for item in err.errors():
        location = [
            str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path")
        ]
        field = ".".join(location) or "body"
        message = str(item.get("msg", "is not valid")).removeprefix("Value error, ")
        errors.append({"field": field, "message": message})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return Problem("invalid-request", detail or "the request is not valid", errors=errors)


def of_http(err: StarletteHTTPException) -> Problem:
    slug = {404: "not-found", 405: "method-not-allowed", 413: "body-too-large"}.get(
        err.status_code, "invalid-request"
    )
    return Problem(slug, str(err.detail), status=err.status_code, headers=dict(err.headers or {}))


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/v1/") or request.url.path == "/v1"
