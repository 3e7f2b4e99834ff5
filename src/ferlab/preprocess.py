"""How a face crop becomes a model's input: one description shared by training, PyTorch and ONNX.

Torch-free (numpy and OpenCV), below both layers: the training transforms
(`ferlab.data.transforms`) take their constants from here, and both inference backends
(`ferlab.app`) turn uint8 crops into inputs with `model_inputs`. A model stores its own
`Preprocessing` (in its model file and in its ONNX metadata, as timm's pretrained config
travels with its weights); files written before that use `Preprocessing`'s defaults, which
are what every ferlab model so far was trained with.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ferlab.checks import check_choice

MEAN, STD = 0.5077, 0.2552
"""FER2013 Training pixel mean and standard deviation (in [0, 1]), used for every channel."""
CROP_MARGIN = 0.2
"""Margin around a detector's box, as a fraction of its size, when cropping a face for the model."""
TTA_MODES: tuple[str, ...] = ("none", "flip", "tencrop")
"""Test-time augmentation: the image; it and its mirror; four corner and one centre crop of the
image padded by 4 pixels (reflect), each with its mirror. Logits are averaged over the views."""
TENCROP_PAD = 4
GRAY_WEIGHTS = np.array([0.2989, 0.587, 0.114], dtype=np.float32)
"""RGB to gray weights (ITU-R 601-2, as torchvision's ``rgb_to_grayscale``)."""


@dataclass(frozen=True)
class Preprocessing:
    """What a model expects of a face crop.

    Attributes:
        input_size: ``(channels, height, width)``; 1 channel is gray, 3 is RGB.
        mean, std: the input is ``(pixel / 255 - mean) / std`` on every channel.
        crop_margin: the crop around a face box grows each side by this fraction of the
            box size (see `ferlab.faces.align_face`).
        layout: ``NCHW`` float32.
    """

    input_size: tuple[int, int, int]
    mean: float = MEAN
    std: float = STD
    crop_margin: float = CROP_MARGIN
    layout: str = "NCHW"

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for model files and JSON)."""
        return {**asdict(self), "input_size": list(self.input_size)}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, input_size: tuple[int, int, int]) -> Preprocessing:
        """The stored preprocessing, or the defaults at ``input_size`` for files that store none."""
        values = dict(values or {})
        values["input_size"] = tuple(values.get("input_size", input_size))
        return cls(**values)

    def to_metadata(self) -> dict[str, str]:
        """ONNX ``metadata_props`` entries (strings) describing this preprocessing."""
        return {
            "ferlab.input_size": json.dumps(list(self.input_size)),
            "ferlab.layout": self.layout,
            "ferlab.channels": "gray" if self.input_size[0] == 1 else "rgb",
            "ferlab.mean": repr(float(self.mean)),
            "ferlab.std": repr(float(self.std)),
            "ferlab.crop_margin": repr(float(self.crop_margin)),
        }

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str]) -> Preprocessing:
        """Read `to_metadata`'s entries back (defaults for entries an older export lacks)."""
        input_size = tuple(json.loads(meta["ferlab.input_size"]))
        return cls(
            input_size,
            float(meta.get("ferlab.mean", MEAN)),
            float(meta.get("ferlab.std", STD)),
            float(meta.get("ferlab.crop_margin", CROP_MARGIN)),
            meta.get("ferlab.layout", "NCHW"),
        )


def preprocessing_of(model: Any) -> Preprocessing:
    """What a built model's inputs need: the `Preprocessing` its model file stored (its
    ``preprocessing`` attribute), else the defaults at its ``in_chans`` and ``input_size``."""
    stored = getattr(model, "preprocessing", None)
    return stored if stored is not None else Preprocessing((model.in_chans, *tuple(model.input_size)[1:]))


def model_inputs(crops: np.ndarray, preprocessing: Preprocessing) -> np.ndarray:
    """uint8 crops ``(N, H, W)`` or ``(N, H, W, 3)`` → float32 ``(N, C, H, W)`` model inputs.

    Crops of another size are resized (OpenCV, area interpolation when shrinking, linear when
    enlarging); gray crops are repeated to RGB, RGB crops weighted to gray as needed.
    """
    channels, height, width = preprocessing.input_size
    crops = np.asarray(crops)
    if crops.ndim == 4 and channels == 1:
        crops = (crops.astype(np.float32) @ GRAY_WEIGHTS).round().clip(0, 255).astype(np.uint8)
    if crops.shape[1:3] != (height, width):
        import cv2  # here, so reading the constants above (the CLI's --help does) does not load OpenCV

        shrink = crops.shape[1] * crops.shape[2] > height * width
        method = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
        crops = np.stack([cv2.resize(crop, (width, height), interpolation=method) for crop in crops])
    x = crops[:, None] if crops.ndim == 3 else crops.transpose(0, 3, 1, 2)
    if channels == 3 and x.shape[1] == 1:
        x = np.repeat(x, 3, axis=1)
    scaled = x.astype(np.float32) * np.float32(1 / 255)
    return np.ascontiguousarray((scaled - np.float32(preprocessing.mean)) / np.float32(preprocessing.std))


def tta_views(x: np.ndarray, mode: str) -> list[np.ndarray]:
    """The test-time views (see `TTA_MODES`) of a batch of ``(N, C, H, W)`` model inputs."""
    check_choice(mode, TTA_MODES, "TTA mode")
    if mode == "none":
        return [x]
    if mode == "flip":
        return [x, np.ascontiguousarray(x[..., ::-1])]
    height, width = x.shape[-2:]
    pad = TENCROP_PAD
    padded = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="reflect")
    full_h, full_w = padded.shape[-2:]
    top, left = (full_h - height) // 2, (full_w - width) // 2
    corners = [(0, 0), (0, full_w - width), (full_h - height, 0), (full_h - height, full_w - width), (top, left)]
    crops = [padded[..., r : r + height, c : c + width] for r, c in corners]
    return [np.ascontiguousarray(v) for v in crops + [crop[..., ::-1] for crop in crops]]
