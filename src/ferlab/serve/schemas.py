"""The API's JSON bodies, as pydantic models (they make the OpenAPI schema at /openapi.json)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FaceOut(BaseModel):
    """One face: where it is and its expression."""

    box: list[float] = Field(description="x1, y1, x2, y2 in pixels of the uploaded image (after EXIF rotation)")
    score: float = Field(description="the detector's confidence (scales differ between detectors)")
    landmarks: list[list[float]] | None = Field(description="(x, y) points from the detector, or null")
    label: str = Field(description="the most probable expression, e.g. happy")
    probabilities: dict[str, float] = Field(description="every class → its probability (they sum to 1)")


class ImageSize(BaseModel):
    """Size of the decoded image in pixels."""

    width: int
    height: int


class Analysis(BaseModel):
    """Everything found in one image."""

    image: ImageSize
    faces: list[FaceOut] = Field(description="surest face first; empty when none was found")
    model: str = Field(description="the expression model's name")
    version: str = Field(description="ferlab's version")
    annotated_png: str | None = Field(None, description="with annotated=true: the annotated image, base64 PNG")


class BatchItem(BaseModel):
    """The outcome for one file of a batch: an analysis, or the error that file alone caused."""

    filename: str = Field(description="the name the client gave the file (only echoed, never used as a path)")
    status: int = Field(description="the HTTP status this file would have had on its own")
    analysis: Analysis | None = None
    error: str | None = None


class BatchResult(BaseModel):
    """One item per uploaded file, in upload order."""

    results: list[BatchItem]


class ModelsInfo(BaseModel):
    """The loaded model, what runs it (``torch`` or ``onnx``), its test-time augmentation (``none``, ``flip``,
    ``tencrop``), its operating point (``data``, ``balanced`` or ``tuned``), the detector, and the models this
    installation ships."""

    loaded: str
    backend: str
    tta: str
    prior: str
    classes: list[str]
    detector: str
    shipped: list[str]
    version: str


class Health(BaseModel):
    """Liveness."""

    status: str = "ok"


class ErrorBody(BaseModel):
    """Every error response."""

    error: str
