"""Fixtures of the REST service tests: the shipped analyzer, a real server on loopback,
and the images the tests upload."""

from __future__ import annotations

import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import cv2
import pytest

from ferlab.app.demo import ASTRONAUT

if TYPE_CHECKING:
    from ferlab.app.analyze import FaceAnalyzer
    from ferlab.serve.settings import ServeSettings

LIVE_LIMITS = {"max_upload_mb": 2.0, "max_pixels": 20_000_000, "timeout_s": 60.0, "max_batch_files": 4}
"""Limits of the live test server (small enough that tests exceed them cheaply)."""


@pytest.fixture(scope="session")
def shipped_analyzer() -> FaceAnalyzer:
    """The default analyzer (OpenCV detector, shipped model), loaded once."""
    from ferlab.app.analyze import FaceAnalyzer

    return FaceAnalyzer()


@pytest.fixture(scope="session")
def live_settings() -> ServeSettings:
    """The settings the live server runs with."""
    from ferlab.serve.settings import ServeSettings

    return ServeSettings(**LIVE_LIMITS)


@pytest.fixture(scope="session")
def live_server(shipped_analyzer: FaceAnalyzer, live_settings: ServeSettings) -> Iterator[str]:
    """`create_app` under uvicorn on a free loopback port, in a background thread; yields its base URL."""
    import uvicorn

    from ferlab.serve.app import create_app

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(live_settings, shipped_analyzer), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the test server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()


@pytest.fixture(scope="session")
def astronaut_png() -> bytes:
    """The bundled astronaut photo (one smiling face), as PNG bytes."""
    return ASTRONAUT.read_bytes()


@pytest.fixture(scope="session")
def astronaut_jpeg() -> bytes:
    """The astronaut photo as JPEG bytes."""
    ok, encoded = cv2.imencode(".jpg", cv2.imread(str(ASTRONAUT)))
    assert ok
    return encoded.tobytes()


def png_header_only(width: int, height: int) -> bytes:
    """A small PNG file that declares ``width`` x ``height`` 1-bit gray pixels but holds one
    compressed row: readers learn its size from the header, decoding it would fail."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = zlib.compress(b"\x00" + b"\x00" * ((width + 7) // 8))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", row) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def huge_png() -> Callable[[int, int], bytes]:
    """`png_header_only` as a fixture."""
    return png_header_only
