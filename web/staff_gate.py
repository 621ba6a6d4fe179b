"""Staff sign-in for the dashboard: who is asking, and for which agencies.

A staff member signs in with a token of their own (``reminders staff add
SLUG|all``); ``REMINDERS_STAFF_TOKEN``, when set, is the operator's
break-glass token for every agency. The browser then holds a session cookie,
signed and dated with itsdangerous under ``REMINDERS_SIGNING_KEY``: the
server refuses it after ``REMINDERS_STAFF_SESSION_S``, and at once when the
account is revoked (or the break-glass token changed). Failed attempts are
counted per client address and per account, in Redis (so across web
processes): past ``REMINDERS_SIGNIN_MAX_FAILURES`` in
``REMINDERS_SIGNIN_WINDOW_S`` the answer is 429. Any text is a credential
that fails, never an error.
"""

from __future__ import annotations

import hmac

from fastapi import Request
from itsdangerous import BadSignature, TimestampSigner

from reminders.credentials import ALL, Unauthenticated

from .context import WebContext

COOKIE = "reminders_staff"


class StaffGate:
    """Checks staff credentials and sessions; scopes are an agency or ``all``."""

    def __init__(self, ctx: WebContext) -> None:
        self.ctx = ctx
        settings = ctx.settings
        token = settings.staff_token
        self.break_glass = None if token is None else token.get_secret_value()
        self.signing = settings.signing_key.get_secret_value() if settings.signing_key else ""
        self.sessions = TimestampSigner(self.signing, salt="reminders.dashboard")

    def scope_of(self, request: Request) -> str | int | None:
        """The signed-in scope; None when nobody is; seconds to wait when
        this client or account failed too often."""
        bearer = request.headers.get("authorization", "")
        if bearer.startswith("Bearer "):
            presented = bearer[7:].strip()
            wait = self._throttled(request, presented)
            if wait:
                return wait
            found = self._identify(presented)
            if found is None:
                self._failed(request, presented)
            return found
        return self._from_session(request)

    def sign_in(self, request: Request, presented: str) -> str | int | None:
        """A session cookie's value; None for a wrong token; seconds to wait
        when throttled."""
        wait = self._throttled(request, presented)
        if wait:
            return wait
        if self._identify(presented) is None:
            self._failed(request, presented)
            return None
        if self.break_glass is not None and _same(presented, self.break_glass):
            value = f"env:{self._env_mark()}"
        else:
            value = f"staff:{self.ctx.staff.id_of(presented)}"
        return self.sessions.sign(value).decode()

    def _identify(self, presented: str) -> str | None:
        if self.break_glass is not None and _same(presented, self.break_glass):
            return ALL
        try:
            return self.ctx.staff.authenticate(presented).scope
        except Unauthenticated:
            return None

    def _from_session(self, request: Request) -> str | None:
        max_age = self.ctx.settings.staff_session_s
        try:
            value = self.sessions.unsign(request.cookies.get(COOKIE, ""), max_age=max_age)
        except BadSignature:  # forged, malformed or expired
            return None
        kind, _, rest = value.decode().partition(":")
        if kind == "env":
            ok = self.break_glass is not None and _same(rest, self._env_mark())
            return ALL if ok else None
        if kind != "staff":
            return None
        try:
            return self.ctx.staff.check(rest).scope
        except Unauthenticated:
            return None

    def _env_mark(self) -> str:
        """Ties break-glass sessions to the token: changing it ends them."""
        assert self.break_glass is not None
        mark = hmac.new(self.signing.encode(), self.break_glass.encode(), "sha256")
        return mark.hexdigest()[:16]

    def _who(self, request: Request, presented: str) -> list[str]:
        client = f"ip:{request.client.host if request.client else '?'}"
        account = self.ctx.staff.id_of(presented)
        return [client, f"acct:{account}"] if account else [client]

    def _throttled(self, request: Request, presented: str) -> int:
        limit = self.ctx.settings.signin_max_failures
        for who in self._who(request, presented):
            if self.ctx.limits.failures(who) >= limit:
                return self.ctx.limits.window_left_s(who)
        return 0

    def _failed(self, request: Request, presented: str) -> None:
        for who in self._who(request, presented):
            self.ctx.limits.fail(who, window_s=self.ctx.settings.signin_window_s)


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )
