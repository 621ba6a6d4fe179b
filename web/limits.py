"""Request body caps, enforced before a handler reads anything.

A declared ``Content-Length`` over the cap is refused at once; a chunked body
is counted as it streams and cut off when it passes the cap, so a 10 MB body
never sits in memory.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised inside ``receive`` when a streamed body passes the cap."""


class BodyLimit:
    """ASGI middleware answering 413 to bodies over ``max_bytes``."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, larger: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.larger = larger or {}
        """Path prefixes allowed a larger cap (the agency API's batches)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        cap = next(
            (size for prefix, size in self.larger.items() if path.startswith(prefix)),
            self.default_max_bytes,
        )
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _refuse(send, 400, "invalid Content-Length", path)
                return
            if int(declared) > cap:
                await _refuse(send, 413, "request body too large", path)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise BodyTooLarge
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await _refuse(send, 413, "request body too large", path)


async def _refuse(send: Send, status: int, text: str, path: str) -> None:
    if path.startswith("/v1/"):  # the agency API answers problem documents
        slug = "body-too-large" if status == 413 else "invalid-request"
        title = "Body too large" if status == 413 else "Invalid request"
        doc = {"type": f"/v1/problems/{slug}", "title": title, "status": status, "detail": text}
        body, media = json.dumps(doc).encode(), b"application/problem+json"
    else:
        body, media = text.encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", media),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
