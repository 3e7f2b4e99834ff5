"""The JSON endpoints: analyze one image or a batch, list models, health.

(No ``from __future__ import annotations`` here: FastAPI reads the endpoints' annotations,
and the batch limit in them comes from `api_router`'s arguments.)
"""

from typing import Annotated, Any

from fastapi import APIRouter, File, Query, Request, UploadFile

from ferlab.app.analyze import FaceAnalyzer
from ferlab.serve.analysis import analyze_upload
from ferlab.serve.errors import ApiError
from ferlab.serve.schemas import Analysis, BatchItem, BatchResult, ErrorBody, Health, ModelsInfo
from ferlab.serve.settings import ServeSettings
from ferlab.serve.worker import InferenceWorker
from ferlab.version import package_version
from ferlab.weights import list_shipped

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": meaning}
    for status, meaning in (
        (400, "malformed multipart body"),
        (408, "upload slower than the time limit"),
        (413, "body over the size limit, or image over the pixel limit"),
        (
            422,
            "missing, repeated or misnamed file or parameter, too many files, empty file, not an image, corrupt or "
            "truncated image",
        ),
        (503, "analysis not done within the time limit"),
    )
}
Annotate = Annotated[bool, Query(description="also return the annotated image as base64 PNG (annotated_png)")]


def api_router(analyzer: FaceAnalyzer, settings: ServeSettings, worker: InferenceWorker) -> APIRouter:
    """The endpoints, bound to one analyzer (used by ``worker`` only) and the limits of ``settings``."""
    router = APIRouter()

    @router.get("/healthz", response_model=Health, tags=["service"])
    async def healthz() -> Health:
        """Liveness: 200 while the server answers."""
        return Health()

    @router.get("/v1/models", response_model=ModelsInfo, tags=["models"])
    async def models() -> ModelsInfo:
        """The loaded model, what runs it, its TTA, classes and detector, and every model shipped with ferlab."""
        return ModelsInfo(
            loaded=analyzer.classifier.name,
            backend=analyzer.classifier.backend,
            tta=analyzer.classifier.tta,
            prior=analyzer.classifier.prior,
            classes=list(analyzer.classifier.classes),
            detector=analyzer.detector.name,
            shipped=list_shipped(),
            version=package_version(),
        )

    @router.post("/v1/analyze", response_model=Analysis, responses=ERROR_RESPONSES, tags=["analyze"])
    async def analyze(
        request: Request,
        file: Annotated[UploadFile, File(description="an image file (PNG, JPEG, ...), given once")],
        annotated: Annotate = False,
    ) -> dict[str, Any]:
        """Faces in one image: box, landmarks, expression label and probabilities of each."""
        given = len((await request.form()).getlist("file"))  # the form FastAPI parsed, cached on the request
        if given > 1:
            raise ApiError(422, f"the form field file is given {given} times; send one image, or use /v1/analyze/batch")
        data = await file.read()
        return await worker.run(analyze_upload, analyzer, data, settings.max_pixels, annotated)

    @router.post("/v1/analyze/batch", response_model=BatchResult, responses=ERROR_RESPONSES, tags=["analyze"])
    async def analyze_batch(
        files: Annotated[
            list[UploadFile],
            File(
                description=f"image files, 1 to {settings.max_batch_files}",
                min_length=1,
                max_length=settings.max_batch_files,
            ),
        ],
        annotated: Annotate = False,
    ) -> BatchResult:
        """Faces in each of several images; a file that cannot be read gets an error item, the rest go on."""
        results = []
        for upload in files:
            item = BatchItem(filename=upload.filename or "", status=200)
            data = await upload.read()
            try:
                item.analysis = Analysis(
                    **await worker.run(analyze_upload, analyzer, data, settings.max_pixels, annotated)
                )
            except ApiError as error:
                item.status, item.error = error.status_code, str(error.detail)
            results.append(item)
        return BatchResult(results=results)

    return router
