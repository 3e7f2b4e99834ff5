"""The OpenAPI docs at ``/docs``, offline: Swagger UI's files come from the `fastapi_offline` package
(FastAPI's default page loads them from a CDN: blank without internet). No ReDoc at ``/redoc``: its
page fetches a logo from cdn.redoc.ly."""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS = "/docs-assets"
"""Where the docs' JavaScript, CSS and icon are served."""
ASSETS_DIR = files("fastapi_offline") / "static"
"""swagger-ui-bundle.js and swagger-ui.css (Swagger UI 5, which reads OpenAPI 3.1), favicon.png."""


def add_docs(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` (and its OAuth2 redirect page) with its files under ``/docs-assets``,
    all kept out of the OpenAPI schema. ``app`` must be made with ``docs_url=None, redoc_url=None``."""
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(ASSETS_DIR)), name="docs-assets")
    redirect_url = app.swagger_ui_oauth2_redirect_url

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        """Swagger UI for this server's schema; no validator badge (it would contact validator.swagger.io)."""
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + app.openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{root}{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=root + redirect_url if redirect_url else None,
            swagger_ui_parameters={"validatorUrl": None},
        )

    if redirect_url:

        @app.get(redirect_url, include_in_schema=False)
        async def swagger_ui_redirect() -> HTMLResponse:
            """The page Swagger UI's OAuth2 login returns to."""
            return get_swagger_ui_oauth2_redirect_html()
