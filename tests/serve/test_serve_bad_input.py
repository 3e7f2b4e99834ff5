"""Bad requests to the real server get a JSON 4xx, and the server keeps serving."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from ferlab.serve.settings import ServeSettings

httpx = pytest.importorskip("httpx", reason='the REST service tests need the test extra: pip install -e ".[test]"')
pytest.importorskip("fastapi", reason='the REST service needs its extra: pip install -e ".[serve]"')


@pytest.fixture(autouse=True)
def still_serving(live_server: str) -> Iterator[None]:
    """After each bad request, the server still answers /healthz."""
    yield
    assert httpx.get(f"{live_server}/healthz", timeout=10).status_code == 200


def refused(response: httpx.Response, status: int, message: str) -> None:
    """The response is ``status`` with a JSON error mentioning ``message``."""
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def post_file(base: str, data: bytes, name: str = "photo.jpg") -> httpx.Response:
    return httpx.post(f"{base}/v1/analyze", files={"file": (name, data, "image/jpeg")}, timeout=60)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty file"),
        (b"Hello, I am plain text pretending to be a photo.\n", "not a readable image"),
    ],
)
def test_empty_or_non_image_file(live_server: str, data: bytes, message: str) -> None:
    refused(post_file(live_server, data), 422, message)


def test_truncated_jpeg(live_server: str, astronaut_jpeg: bytes) -> None:
    refused(post_file(live_server, astronaut_jpeg[: len(astronaut_jpeg) // 2]), 422, "truncated")


@pytest.mark.parametrize("size, message", [(30000, "exceeds limit"), (5000, "at most 20,000,000")])
def test_too_many_pixels_refused_from_the_header(
    live_server: str,
    huge_png: Callable[[int, int], bytes],
    size: int,
    message: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PIL import ImageFile

    def no_decoding(image: ImageFile.ImageFile) -> None:
        raise AssertionError("pixels were decoded")  # the in-process server would answer something else than 413

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    data = huge_png(size, size)
    assert len(data) < 5000
    refused(post_file(live_server, data, "huge.png"), 413, message)


def test_request_without_body(live_server: str) -> None:
    refused(httpx.post(f"{live_server}/v1/analyze"), 422, "file: Field required")


def test_file_under_the_wrong_field_name(live_server: str, astronaut_jpeg: bytes) -> None:
    response = httpx.post(f"{live_server}/v1/analyze", files={"image": ("a.jpg", astronaut_jpeg)})
    refused(response, 422, "file: Field required")


def test_malformed_multipart(live_server: str) -> None:
    response = httpx.post(
        f"{live_server}/v1/analyze", content=b"--nope\r\n\r\n", headers={"content-type": "multipart/form-data"}
    )
    assert 400 <= response.status_code < 500 and "error" in response.json()


def test_bad_query_value(live_server: str, astronaut_jpeg: bytes) -> None:
    response = httpx.post(
        f"{live_server}/v1/analyze", params={"annotated": "perhaps"}, files={"file": ("a.jpg", astronaut_jpeg)}
    )
    refused(response, 422, "annotated")


def test_declared_gigabyte_refused_before_the_body_is_read(live_server: str, live_settings: ServeSettings) -> None:
    url = urlsplit(live_server)
    head = (
        f"POST /v1/analyze HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 1073741824\r\n\r\n"
    )
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(head.encode() + b"--x\r\n")  # a few bytes of the promised gigabyte, no more
        reply = b""
        while b"}" not in reply:
            chunk = connection.recv(4096)
            if not chunk:
                break
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert f'"error":"request body over the {live_settings.max_upload_bytes:,}-byte limit"'.encode() in reply


def test_a_repeated_file_field_is_refused(live_server: str, astronaut_jpeg: bytes) -> None:
    files = [("file", ("a.jpg", astronaut_jpeg, "image/jpeg")), ("file", ("b.jpg", astronaut_jpeg, "image/jpeg"))]
    response = httpx.post(f"{live_server}/v1/analyze", files=files, timeout=60)
    refused(response, 422, "the form field file is given 2 times")
