"""The OpenAPI docs over the live loopback server: ``/docs`` loads Swagger UI from this server only,
never from a CDN, and there is no ``/redoc``. Swagger UI rendering offline in Chromium: test_serve_page.py."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pytest

httpx = pytest.importorskip("httpx", reason='the REST service tests need the test extra: pip install -e ".[test]"')
pytest.importorskip("fastapi", reason='the REST service needs its extra: pip install -e ".[serve]"')

ASSET_URL = re.compile(r"<(?:script|link)\b[^>]*\b(?:src|href)=\"([^\"]*)\"")
CONTENT_TYPE = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def test_docs_load_only_this_servers_files(live_server: str) -> None:
    docs = httpx.get(f"{live_server}/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    assert "http://" not in docs.text and "https://" not in docs.text
    assets = ASSET_URL.findall(docs.text)
    assert sorted(PurePosixPath(url).suffix for url in assets) == [".css", ".js", ".png"], assets
    for url in assets:
        assert url.startswith("/") and not url.startswith("//"), url
        response = httpx.get(live_server + url)
        assert response.status_code == 200, url
        assert CONTENT_TYPE[PurePosixPath(url).suffix] in response.headers["content-type"], url
    assert "url: '/openapi.json'" in docs.text


def test_oauth2_redirect_page_and_no_redoc(live_server: str) -> None:
    assert httpx.get(f"{live_server}/docs/oauth2-redirect").status_code == 200
    redoc = httpx.get(f"{live_server}/redoc")
    assert redoc.status_code == 404 and redoc.json() == {"error": "Not Found"}
