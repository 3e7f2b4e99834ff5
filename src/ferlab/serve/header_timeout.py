"""A time limit on request headers: uvicorn's HTTP/1.1 protocol closes a connection whose next request's
headers have not all arrived within ``header_timeout_s`` (uvicorn has none: a client that sends half a
request line would hold the connection open). The body then falls under `ferlab.serve.limits.RequestLimits`."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol


class HeaderTimeoutH11(H11Protocol):
    """`H11Protocol` that closes the connection when a request's headers take over `header_timeout_s`."""

    header_timeout_s = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_headers()

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before:  # a request's headers are complete
            self._stop_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.cycle is not None and self.cycle.response_complete:
            self._await_headers()  # the next request on this connection gets the same limit

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _await_headers(self) -> None:
        self._stop_timer()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self.transport.close)

    def _stop_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None


def with_header_timeout(seconds: float) -> type[HeaderTimeoutH11]:
    """The protocol class to give ``uvicorn.Config(http=...)`` for a header limit of ``seconds``."""
    return type("HeaderTimeoutH11", (HeaderTimeoutH11,), {"header_timeout_s": seconds})
