"""The README's onnxruntime + Pillow snippet reproduces `ferlab.analyze`'s probabilities at the data point."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage import data

import ferlab
from ferlab.weights import list_shipped, shipped_onnx

README = Path(__file__).resolve().parents[2] / "README.md"


def onnx_snippet() -> str:
    """The README's python block that uses onnxruntime."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    (snippet,) = [block for block in blocks if "import onnxruntime" in block]
    return snippet


@pytest.mark.parametrize("model", list_shipped())
@pytest.mark.parametrize("size", [(181, 143), (40, 36)])  # shrunk (area) and enlarged (linear) to 48x48
def test_snippet_matches_analyze(tmp_path: Path, model: str, size: tuple[int, int]) -> None:
    face = cv2.resize(data.astronaut()[30:230, 150:330], size[::-1], interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(tmp_path / "face.png"), cv2.cvtColor(face, cv2.COLOR_RGB2BGR))
    shutil.copy(shipped_onnx(model), tmp_path / "ferlab-wild.onnx")
    code = onnx_snippet() + "\nprint(json.dumps(probabilities.tolist()))\n"
    run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    printed, snippet_probabilities = run.stdout.strip().splitlines()
    (expected,) = ferlab.analyze(tmp_path / "face.png", detector="none", model=model, prior="data")
    assert np.allclose(json.loads(snippet_probabilities), list(expected["probabilities"].values()), atol=1e-5)
    assert "happiness" in printed or "happy" in printed
