"""Uploaded bytes → decoded image → faces and expressions, as the API's JSON."""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np

from ferlab.app.analyze import FaceAnalyzer
from ferlab.app.draw import annotate, encode_rgb
from ferlab.data.images import ImageReadError, ImageTooLarge, read_image
from ferlab.serve.errors import ApiError
from ferlab.version import package_version


def decode_upload(data: bytes, max_pixels: int) -> np.ndarray:
    """RGB uint8 pixels of an uploaded image file, decoded in memory.

    Raises `ApiError`: 413 for more than ``max_pixels`` pixels (found from the header,
    nothing decoded), 422 for an empty, unknown, corrupt or truncated file.
    """
    if not data:
        raise ApiError(422, "empty file: no image data was sent")
    try:
        return read_image(io.BytesIO(data), color="rgb", max_pixels=max_pixels)  # predict's formats
    except ImageTooLarge as error:
        raise ApiError(413, f"image has {error}") from None
    except ImageReadError as error:
        raise ApiError(422, f"{error} (accepted: the formats Pillow reads, EPS excepted)") from None


def analyze_upload(analyzer: FaceAnalyzer, data: bytes, max_pixels: int, annotated: bool) -> dict[str, Any]:
    """The analysis of one uploaded image: its size, its faces, the model and ferlab version.

    With ``annotated``, ``annotated_png`` holds the image with boxes and labels drawn, as
    base64 PNG. Raises `ApiError` for images that cannot be read (see `decode_upload`).
    """
    rgb = decode_upload(data, max_pixels)
    faces = analyzer.analyze(rgb)
    result: dict[str, Any] = {
        "image": {"width": rgb.shape[1], "height": rgb.shape[0]},
        "faces": [face.to_dict() for face in faces],
        "model": analyzer.classifier.name,
        "version": package_version(),
        "annotated_png": None,
    }
    if annotated:
        result["annotated_png"] = base64.b64encode(encode_rgb(annotate(rgb, faces))).decode("ascii")
    return result
