"""Synthetic occlusion of uint8 face images, to measure how much a model relies on a region.

Fractions are of the image height (and width for ``random``), chosen for faces aligned
like FER2013's 48x48 crops:

* ``eyes``: rows ``EYES_ROWS`` = 0.20-0.45 of the height (rows 10-21 at 48 px), full width;
* ``mouth``: rows ``MOUTH_ROWS`` = 0.65-0.90 of the height (rows 31-42 at 48 px), full width;
* ``random``: one square whose side is 1/3 of the shorter image side (16 px at 48), at a
  uniformly random position inside the image, one per image, reproducible from ``seed``.

Occluded pixels are set to mid-gray ``GRAY`` (128) in every channel.
"""

from __future__ import annotations

import numpy as np

from ferlab.checks import check_choice

OCCLUSION_MODES: tuple[str, ...] = ("none", "random", "eyes", "mouth")
GRAY = 128
EYES_ROWS: tuple[float, float] = (0.20, 0.45)
MOUTH_ROWS: tuple[float, float] = (0.65, 0.90)
RANDOM_SIDE = 1 / 3


def band_rows(height: int, fractions: tuple[float, float]) -> slice:
    """The rows ``round(a * height):round(b * height)`` a band of fractions ``(a, b)`` covers."""
    return slice(round(fractions[0] * height), round(fractions[1] * height))


def occlude(images: np.ndarray, mode: str, seed: int = 0) -> np.ndarray:
    """A copy of uint8 ``(N, H, W)`` or ``(N, H, W, 3)`` images with the ``mode`` region grayed out.

    ``mode`` is one of `OCCLUSION_MODES` (see the module docstring); ``none`` returns the
    images unchanged (not copied).
    """
    check_choice(mode, OCCLUSION_MODES, "occlusion mode")
    if mode == "none":
        return images
    out = images.copy()
    height, width = images.shape[1:3]
    if mode in ("eyes", "mouth"):
        out[:, band_rows(height, EYES_ROWS if mode == "eyes" else MOUTH_ROWS)] = GRAY
        return out
    side = max(1, round(min(height, width) * RANDOM_SIDE))
    rng = np.random.default_rng(seed)
    tops = rng.integers(0, height - side + 1, len(images))
    lefts = rng.integers(0, width - side + 1, len(images))
    for image, top, left in zip(out, tops, lefts):
        image[top : top + side, left : left + side] = GRAY
    return out
