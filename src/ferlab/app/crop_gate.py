"""The crop rule's gate: is an image in which the detector found no face plausibly a face crop?

The crop rule (see `ferlab.app.analyze.CROP_MAX_SIDE`) classifies a small, about square image whole when the
detector finds no face in it, since detectors miss the face that fills an aligned crop. Without a gate it
labels anything of that size: a blank image was "angry 0.92". `CropGate` looks at the image as the model
sees it (gray, shrunk to 48x48) and asks for what every photo of a face has and blank images and noise lack:
contrast (a standard deviation of at least ``min_std`` gray levels) and smooth structure (neighbouring pixels
correlated, horizontally and vertically, at least ``min_correlation``; about 0 for noise, 0.75 or more for
every crop of the SFEW validation part). It does not tell a face from a texture or an object photo: those mostly
pass. Measured by ``bench/crop_gate.py``; figures in `results/reliability.md`.
"""

from __future__ import annotations

import cv2
import numpy as np

from ferlab.faces.base import as_rgb

GATE_SIZE = 48
GATE_MIN_STD = 8.0
GATE_MIN_CORRELATION = 0.6


class CropGate:
    """``gate(image)``: whether an image array plausibly is one face crop (see the module docstring)."""

    def __init__(self, min_std: float = GATE_MIN_STD, min_correlation: float = GATE_MIN_CORRELATION) -> None:
        self.min_std, self.min_correlation = min_std, min_correlation

    def __call__(self, image: np.ndarray) -> bool:
        gray = cv2.cvtColor(as_rgb(image), cv2.COLOR_RGB2GRAY)
        if min(gray.shape) < 2:
            return False
        side = min(GATE_SIZE, *gray.shape)
        small = cv2.resize(gray, (side, side), interpolation=cv2.INTER_AREA).astype(np.float64)
        if small.std() < self.min_std:
            return False
        return (
            min(_correlation(small[:, :-1], small[:, 1:]), _correlation(small[:-1], small[1:])) >= self.min_correlation
        )


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's correlation of two same-shaped arrays; 0 when either is constant."""
    a, b = a.ravel() - a.mean(), b.ravel() - b.mean()
    scale = float(np.sqrt((a @ a) * (b @ b)))
    return float(a @ b) / scale if scale else 0.0
