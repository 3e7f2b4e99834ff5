"""`run_server`: `create_app` behind uvicorn, as `ferlab serve` runs it."""

from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Any

import uvicorn

from ferlab.errors import FerlabError
from ferlab.serve.app import create_app
from ferlab.serve.header_timeout import with_header_timeout
from ferlab.serve.settings import ServeSettings

log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (``localhost``, ``127.x``, ``::1``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def listen(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (IPv6 for an address with a colon); `FerlabError` when it cannot be."""
    listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind((host, port))
    except OSError as error:
        listener.close()
        raise FerlabError(f"cannot listen on {host}:{port}: {error.strerror or error}") from None
    return listener


def service_url(listener: socket.socket) -> str:
    """``http://HOST:PORT/`` of a bound socket (the port it really got, for port 0; IPv6 in brackets)."""
    host, port = listener.getsockname()[:2]
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def run_server(settings: ServeSettings) -> None:
    """Take the port, load the analyzer, print the URL, then serve until Ctrl+C; warns when
    listening beyond this machine."""
    with listen(settings.host, settings.port) as listener:
        app = create_app(settings)
        if not is_loopback(settings.host):
            log.warning("listening on %s: other machines can reach this service (no authentication)", settings.host)
        url = service_url(listener)
        print(f"ferlab serve: web page {url} , API docs {url}docs ; Ctrl+C stops", flush=True)
        uvicorn.Server(uvicorn_config(app, settings)).run(sockets=[listener])


def uvicorn_config(app: Any, settings: ServeSettings, **options: Any) -> uvicorn.Config:
    """How uvicorn serves ``app``: headers within ``settings.header_timeout_s`` (`with_header_timeout`), the body
    within ``settings.timeout_s`` (`ferlab.serve.limits.RequestLimits`); ``options`` go to `uvicorn.Config`."""
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        timeout_graceful_shutdown=5,
        http=with_header_timeout(settings.header_timeout_s),
        **options,
    )
