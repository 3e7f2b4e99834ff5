"""Size and time limits, in process (httpx's ASGI transport) with a stand-in analyzer of
controllable speed: bodies without a declared length, slow uploads, slow analyses."""

from __future__ import annotations

import asyncio
import io
import threading
from collections.abc import AsyncIterator
from types import SimpleNamespace

import numpy as np
import pytest

httpx = pytest.importorskip("httpx", reason='the REST service tests need the test extra: pip install -e ".[test]"')
pytest.importorskip("fastapi", reason='the REST service needs its extra: pip install -e ".[serve]"')

from ferlab.errors import FerlabError  # noqa: E402
from ferlab.serve.app import create_app  # noqa: E402
from ferlab.serve.settings import ServeSettings  # noqa: E402


class StandInAnalyzer:
    """Finds no face; with ``stalled``, only once released (`post` releases it when the answer is in)."""

    classifier = SimpleNamespace(name="stand-in", classes=("happy", "sad"))
    detector = SimpleNamespace(name="none")

    def __init__(self, stalled: bool = False) -> None:
        self.released = threading.Event()
        if not stalled:
            self.released.set()

    def analyze(self, rgb: np.ndarray) -> list:
        assert self.released.wait(timeout=120), "never released"
        return []


def post(settings: ServeSettings, body: bytes | AsyncIterator[bytes], stalled: bool = False) -> httpx.Response:
    """POST ``body`` (a generator: sent chunked, no Content-Length) as a one-file multipart upload; with
    ``stalled``, the analysis lasts until the response has arrived."""
    analyzer = StandInAnalyzer(stalled)
    app = create_app(settings, analyzer)

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ferlab") as client:
            try:
                return await client.post(
                    "/v1/analyze", content=body, headers={"content-type": "multipart/form-data; boundary=b"}
                )
            finally:
                analyzer.released.set()

    return asyncio.run(send())


def multipart(data: bytes) -> bytes:
    return b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n' + data + b"\r\n--b--\r\n"


async def chunks(data: bytes, size: int, stall_after: int | None = None) -> AsyncIterator[bytes]:
    """``data`` in pieces of ``size`` bytes; with ``stall_after``, the upload stalls after that many pieces until
    the server gives up on it."""
    for number, start in enumerate(range(0, len(data), size)):
        if number == stall_after:
            await asyncio.sleep(120)  # cancelled with the request; the bound fails a server without the limit
        yield data[start : start + size]


def test_undeclared_body_over_the_limit_is_counted(astronaut_png: bytes) -> None:
    settings = ServeSettings(max_upload_mb=0.25)
    assert len(astronaut_png) > settings.max_upload_bytes
    response = post(settings, chunks(multipart(astronaut_png), 64 * 1024))
    assert response.status_code == 413 and "262,144-byte limit" in response.json()["error"]


def test_body_under_the_limit_is_analysed(astronaut_png: bytes) -> None:
    response = post(ServeSettings(), chunks(multipart(astronaut_png), 64 * 1024))
    assert response.status_code == 200 and response.json()["faces"] == []


def test_slow_upload_times_out_with_408(astronaut_png: bytes) -> None:
    """No timing: the upload stalls after its first piece until the server has answered."""
    response = post(ServeSettings(timeout_s=0.3), chunks(multipart(astronaut_png), 64 * 1024, stall_after=1))
    assert response.status_code == 408 and response.json() == {"error": "upload took longer than 0.3 s"}


def test_slow_analysis_times_out_with_503(astronaut_png: bytes) -> None:
    """The analysis lasts until the answer is in, whatever the machine's speed. The in-memory body must be read
    within the limit (else 408): 1 s leaves a loaded machine ample room, where 0.3 s did not."""
    response = post(ServeSettings(timeout_s=1.0), multipart(astronaut_png), stalled=True)
    assert response.status_code == 503 and response.json() == {"error": "analysis took longer than 1 s"}


@pytest.mark.parametrize("options", [{"port": 70000}, {"max_upload_mb": 0}, {"timeout_s": -1}])
def test_bad_settings_are_clear_errors(options: dict) -> None:
    with pytest.raises(FerlabError):
        ServeSettings(**options)


def test_max_pixels_above_pillows_limit_is_honoured(monkeypatch: pytest.MonkeyPatch, shipped_analyzer) -> None:
    from PIL import Image

    from ferlab.data.images import read_image

    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", Image.MAX_IMAGE_PIXELS)  # restored after the test
    big = io.BytesIO()
    Image.new("1", (10_000, 19_000)).save(big, format="PNG")  # 190 Mpx: over twice Pillow's 89.5 Mpx limit
    create_app(ServeSettings(max_pixels=200_000_000), shipped_analyzer)
    assert read_image(io.BytesIO(big.getvalue()), max_pixels=200_000_000, size=(8, 8)).shape == (8, 8)


def test_a_connection_with_incomplete_headers_is_closed(shipped_analyzer) -> None:
    """A client that sends half a request is disconnected after the header limit (0.5 s here); the test waits
    for the close itself, up to 60 s, not for a time."""
    import socket
    import threading

    import uvicorn

    from ferlab.serve.server import uvicorn_config

    settings = ServeSettings(header_timeout_s=0.5)
    listener = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn_config(create_app(settings, shipped_analyzer), settings, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=60) as client:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # no blank line: the headers never end
            assert client.recv(1024) == b""  # closed by the server
        with socket.create_connection(listener.getsockname(), timeout=60) as client:  # whole requests still work
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(1024).startswith(b"HTTP/1.1 200")
            client.sendall(b"GET /healthz HTTP/1.1\r\n")  # the next request on the connection has the limit too
            assert b"" in (client.recv(1024), client.recv(1024))
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()
