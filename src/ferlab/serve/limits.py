"""`RequestLimits`: the size and time limits of every HTTP request, as ASGI middleware."""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ferlab.serve.errors import ApiError, error_response


class RequestLimits:
    """Holds each HTTP request to ``max_bytes`` of body and ``timeout_s`` seconds.

    A declared ``Content-Length`` over the limit is answered 413 before any of the body is
    read; a body that grows past it while read (chunked, or a short declared length) fails
    with 413 too. A request still unanswered after ``timeout_s`` gets 408 when its body was
    still arriving, 503 when the server was busy with it.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, timeout_s: float) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one connection event; non-HTTP scopes (lifespan) pass through."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"request body over the {self.max_bytes:,}-byte limit"
        if _declared_length(scope) > self.max_bytes:
            await error_response(413, too_large)(scope, receive, send)
            return
        received = 0
        body_done = False
        answered = False

        async def counting_receive() -> Message:
            nonlocal received, body_done
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ApiError(413, too_large)
                body_done = not message.get("more_body", False)
            return message

        async def watching_send(message: Message) -> None:
            nonlocal answered
            answered = answered or message["type"] == "http.response.start"
            await send(message)

        try:
            await asyncio.wait_for(self.app(scope, counting_receive, watching_send), self.timeout_s)
        except asyncio.TimeoutError:
            if not answered:
                status, what = (503, "analysis") if body_done else (408, "upload")
                await error_response(status, f"{what} took longer than {self.timeout_s:g} s")(scope, receive, send)


def _declared_length(scope: Scope) -> int:
    """The request's Content-Length (0 when absent; the HTTP server rejects malformed ones)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
    return 0
