"""``reminders.Client``: the agency API for Python agency systems.

The same methods as :class:`reminders.ReminderService` for what an agency
does (register, register_many, get, reschedule, complete, cancel, deadlines,
coverage), over HTTP with the agency's API key, raising the same
:class:`reminders.ReminderError` subclasses (the API's problem documents
mapped back). ``connect()`` stays the operator's door: it holds the master
secrets; this holds one agency's key.

    client = reminders.Client("https://rappels.example.gouv.qc.ca", "rk_...")
    receipt = client.register(reminders.Deadline(agency="saaq", ...))
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from .coverage import CoverageReport
from .errors import (
    ConflictError,
    DeadlineClosed,
    DeadlineNotFound,
    DeadlinePassed,
    Forbidden,
    InvalidRequest,
    NotFound,
    RateLimited,
    ReminderError,
    ReminderNotFound,
    ServiceError,
    SnoozeTooLate,
    Unauthenticated,
)
from .listing import Page
from .models import Deadline
from .views import DeadlineView, ItemResult, Receipt

M = TypeVar("M", bound=BaseModel)
BATCH = 10_000


class Client:
    """One agency system's handle on the HTTP API."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_s: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "reminders-client"},
            timeout=timeout_s,
            transport=transport,
        )

    def register(self, deadline: Deadline) -> Receipt:
        """Create or update a deadline (idempotent upsert on agency and ref)."""
        if not isinstance(deadline, Deadline):
            raise InvalidRequest("deadline", "must be a reminders.Deadline")
        body = deadline.model_dump(mode="json", exclude={"agency", "ref"}, exclude_none=True)
        path = _deadline_path(deadline.agency, deadline.ref)
        answer = self._call("PUT", path, json=body, agency=deadline.agency, ref=deadline.ref)
        return Receipt.model_validate(answer)

    def register_many(self, items: Iterable[Deadline | Mapping[str, Any]]) -> list[ItemResult]:
        """Register many deadlines, in batches of up to 10,000 per agency;
        one result per item, in the order given (indexes into ``items``)."""
        listed = list(items)
        results: dict[int, ItemResult] = {}
        groups: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for index, item in enumerate(listed):
            data = _as_dict(item)
            agency = data.get("agency")
            if not isinstance(agency, str):
                results[index] = ItemResult(index=index, ok=False, error="agency: is required")
                continue
            groups.setdefault(agency, []).append((index, data))
        for agency, members in groups.items():
            for start in range(0, len(members), BATCH):
                chunk = members[start : start + BATCH]
                body = [{k: v for k, v in data.items() if k != "agency"} for _, data in chunk]
                answer = self._call("POST", f"/v1/agencies/{agency}/deadlines/batch", json=body)
                for (index, _), found in zip(chunk, answer["results"], strict=True):
                    result = ItemResult.model_validate(found)
                    results[index] = result.model_copy(update={"index": index})
        return [results[i] for i in range(len(listed))]

    def get(self, agency: str, ref: str) -> DeadlineView:
        path = _deadline_path(agency, ref)
        return DeadlineView.model_validate(self._call("GET", path, agency=agency, ref=ref))

    def reschedule(self, agency: str, ref: str, *, due: datetime | date) -> Receipt:
        path = _deadline_path(agency, ref) + "/reschedule"
        answer = self._call("POST", path, json={"due": due.isoformat()}, agency=agency, ref=ref)
        return Receipt.model_validate(answer)

    def complete(self, agency: str, ref: str) -> DeadlineView:
        path = _deadline_path(agency, ref) + "/complete"
        return DeadlineView.model_validate(self._call("POST", path, agency=agency, ref=ref))

    def cancel(self, agency: str, ref: str) -> DeadlineView:
        path = _deadline_path(agency, ref) + "/cancel"
        return DeadlineView.model_validate(self._call("POST", path, agency=agency, ref=ref))

    def deadlines(
        self,
        agency: str,
        *,
        status: str | None = None,
        due_from: date | None = None,
        due_to: date | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page:
        params = {
            "status": status,
            "due_from": due_from.isoformat() if due_from else None,
            "due_to": due_to.isoformat() if due_to else None,
            "cursor": cursor,
            "limit": limit,
        }
        query = {k: v for k, v in params.items() if v is not None}
        return Page.model_validate(
            self._call("GET", f"/v1/agencies/{agency}/deadlines", params=query)
        )

    def coverage(
        self, agency: str, start: date | None = None, end: date | None = None
    ) -> CoverageReport:
        query = {k: v.isoformat() for k, v in (("start", start), ("end", end)) if v is not None}
        answer = self._call("GET", f"/v1/agencies/{agency}/coverage", params=query)
        return CoverageReport.model_validate(answer)

    def set_callback(self, agency: str, url: str) -> str:
        """Send the agency's status callbacks to ``url``; the signing secret."""
        answer = self._call("PUT", f"/v1/agencies/{agency}/callback", json={"url": url})
        return str(answer["secret"])

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(
        self, method: str, path: str, *, agency: str = "", ref: str = "", **kwargs: Any
    ) -> Any:
        try:
            answer = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as err:
            kind = type(err).__name__
            raise ServiceError(f"the service could not be reached ({kind})") from None
        if answer.is_success:
            return answer.json()
        raise _error(answer, agency, ref)


def _deadline_path(agency: str, ref: str) -> str:
    return f"/v1/agencies/{agency}/deadlines/{httpx.URL(ref).raw_path.decode()}"


def _as_dict(item: Deadline | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(item, Deadline):
        return item.model_dump(mode="json", exclude_none=True)
    plain: dict[str, Any] = json.loads(json.dumps(dict(item), default=str))  # dates as text
    return plain


def _error(answer: httpx.Response, agency: str = "", ref: str = "") -> ReminderError:
    """The library's error for a problem document."""
    try:
        doc = answer.json()
    except ValueError:
        doc = {}
    slug = str(doc.get("type", "")).rsplit("/", 1)[-1]
    detail = str(doc.get("detail") or f"HTTP {answer.status_code}")
    errors = doc.get("errors") or []
    field = str(errors[0]["field"]) if errors else "request"
    reason = str(errors[0]["message"]) if errors else detail
    if slug == "unauthenticated":
        return Unauthenticated(detail)
    if slug == "forbidden":
        return Forbidden(detail)
    if slug == "rate-limited":
        return RateLimited(detail, int(answer.headers.get("retry-after", "1")))
    if slug == "deadline-not-found":
        return DeadlineNotFound(agency, ref)
    if slug == "reminder-not-found":
        return ReminderNotFound("")
    if slug == "not-found":
        return NotFound(detail)
    if slug == "deadline-closed":
        return DeadlineClosed(agency, ref, detail.rsplit(" ", 1)[-1])
    if slug == "conflict":
        return ConflictError(detail)
    if slug == "deadline-passed":
        return DeadlinePassed(field, reason)
    if slug == "snooze-too-late":
        return SnoozeTooLate(field, reason)
    if slug == "invalid-request" or answer.status_code == 422:
        return InvalidRequest(field, reason)
    return ServiceError(detail)
