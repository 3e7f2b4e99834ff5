"""`create_app`: the FastAPI application of `ferlab serve`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from PIL import Image

from ferlab.app.analyze import FaceAnalyzer
from ferlab.serve.api import api_router
from ferlab.serve.docs import add_docs
from ferlab.serve.errors import install_error_handlers
from ferlab.serve.limits import RequestLimits
from ferlab.serve.page import add_page
from ferlab.serve.settings import ServeSettings
from ferlab.serve.worker import InferenceWorker
from ferlab.version import package_version


def create_app(settings: ServeSettings | None = None, analyzer: FaceAnalyzer | None = None) -> FastAPI:
    """The service: JSON API under ``/v1``, ``/healthz``, the web page at ``/``, docs at ``/docs``.

    settings: limits and what to load (defaults: `ServeSettings()`). A ``max_pixels`` above Pillow's
        decompression-bomb limit (89.5 Mpx) raises that limit in this process, so ``--max-pixels`` is honoured.
    analyzer: the analyzer to serve; built from ``settings.detector``, ``settings.model``, ``settings.backend``
        and ``settings.tta`` when None (a bad name raises `ferlab.FerlabError` here, before anything listens).
    """
    settings = settings or ServeSettings()
    if settings.max_pixels > (Image.MAX_IMAGE_PIXELS or 0):  # Pillow refuses larger images before ours is asked
        Image.MAX_IMAGE_PIXELS = settings.max_pixels  # process-wide: this process serves these settings
    analyzer = analyzer or FaceAnalyzer(
        settings.detector, settings.model, backend=settings.backend, tta=settings.tta, prior=settings.prior
    )
    worker = InferenceWorker()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        worker.close()

    app = FastAPI(
        title="ferlab",
        version=package_version(),
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        description='Faces and their expressions in uploaded images. Errors are JSON `{"error": "..."}`. '
        f"Limits: {settings.max_upload_mb:g} MiB per request, {settings.max_pixels:,} pixels per image, "
        f"{settings.timeout_s:g} s per request, {settings.max_batch_files} files per batch.",
    )
    app.add_middleware(RequestLimits, max_bytes=settings.max_upload_bytes, timeout_s=settings.timeout_s)
    install_error_handlers(app)
    app.include_router(api_router(analyzer, settings, worker))
    add_page(app)
    add_docs(app)
    return app
