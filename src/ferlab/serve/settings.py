"""`ServeSettings`: what the service loads and the limits each request is held to."""

from __future__ import annotations

from dataclasses import dataclass

from ferlab.errors import FerlabError
from ferlab.faces import DEFAULT_DETECTOR
from ferlab.weights import DEFAULT_MODEL


@dataclass(frozen=True)
class ServeSettings:
    """Options of `ferlab serve`.

    host, port: where to listen (``127.0.0.1``: this machine only).
    model, detector, backend, tta: what `ferlab.app.FaceAnalyzer` loads (backend ``torch`` or
        ``onnx``; test-time augmentation ``none``, ``flip`` or ``tencrop``).
    max_upload_mb: largest request body (all files of a batch together), in MiB.
    max_pixels: largest image, width x height, checked from the header before decoding.
    timeout_s: longest time a request may take, upload and analysis included.
    max_batch_files: most files in one batch request.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    model: str = DEFAULT_MODEL
    detector: str = DEFAULT_DETECTOR
    backend: str = "auto"
    tta: str = "none"
    max_upload_mb: float = 10.0
    max_pixels: int = 40_000_000
    timeout_s: float = 30.0
    max_batch_files: int = 16

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise FerlabError(f"port {self.port} is not in 0-65535")
        for name in ("max_upload_mb", "max_pixels", "timeout_s", "max_batch_files"):
            if getattr(self, name) <= 0:
                raise FerlabError(f"{name.replace('_', '-')} must be positive, not {getattr(self, name)}")

    @property
    def max_upload_bytes(self) -> int:
        """``max_upload_mb`` in bytes."""
        return int(self.max_upload_mb * 1024 * 1024)
