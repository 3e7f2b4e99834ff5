"""`ServeSettings`: what the service loads and the limits each request is held to."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from ferlab.app.classifier import BACKENDS
from ferlab.constraints import Finite, Ge, Gt, Interval, OneOf, check_settings
from ferlab.faces import DEFAULT_DETECTOR
from ferlab.preprocess import TTA_MODES
from ferlab.priors import DEFAULT_PRIOR, PRIORS
from ferlab.weights import DEFAULT_MODEL


@dataclass(frozen=True)
class ServeSettings:
    """Options of `ferlab serve`.

    host, port: where to listen (``127.0.0.1``: this machine only).
    model, detector, backend, tta, prior: what `ferlab.app.FaceAnalyzer` loads (backend ``torch``
        or ``onnx``; test-time augmentation ``none``, ``flip`` or ``tencrop``; operating point
        ``data``, ``balanced`` or ``tuned``).
    max_upload_mb: largest request body (all files of a batch together), in MiB.
    max_pixels: largest image, width x height, checked from the header before decoding.
    timeout_s: longest time a request may take, upload and analysis included (408 when the body
        is still arriving, 503 when the analysis is).
    header_timeout_s: longest time a request's headers may take to arrive; the connection is closed after.
    max_batch_files: most files in one batch request.

    Constraints are declared in the types (`ferlab.constraints`): a bad value raises a one-line
    `ferlab.errors.OptionError`, a `ValueError`.
    """

    host: str = "127.0.0.1"
    port: Annotated[int, Interval(ge=0, le=65535)] = 8000
    model: str = DEFAULT_MODEL
    detector: str = DEFAULT_DETECTOR
    backend: Annotated[str, OneOf(BACKENDS)] = "auto"
    tta: Annotated[str, OneOf(TTA_MODES)] = "none"
    prior: Annotated[str, OneOf(PRIORS)] = DEFAULT_PRIOR
    max_upload_mb: Annotated[float, Gt(0), Finite()] = 10.0
    max_pixels: Annotated[int, Ge(1)] = 40_000_000
    timeout_s: Annotated[float, Gt(0), Finite()] = 30.0
    header_timeout_s: Annotated[float, Gt(0), Finite()] = 10.0
    max_batch_files: Annotated[int, Ge(1)] = 16

    def __post_init__(self) -> None:
        check_settings(self)

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)
