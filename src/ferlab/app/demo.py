"""`ferlab demo`: the whole pipeline on a bundled public-domain photo, offline."""

from __future__ import annotations

from pathlib import Path

from ferlab.app.analyze import FaceAnalyzer
from ferlab.app.predict import PredictReport, predict_images

ASTRONAUT = Path(__file__).resolve().parent.parent / "assets" / "astronaut.png"
"""Eileen Collins, NASA portrait (public domain); the same pixels as ``skimage.data.astronaut()``."""


def run_demo(analyzer: FaceAnalyzer, out: Path) -> PredictReport:
    """Find and classify the faces in the astronaut photo; write the annotated image and tables to ``out``."""
    return predict_images(ASTRONAUT, analyzer, out)
