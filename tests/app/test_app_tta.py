"""Test-time augmentation in the application (`--tta` of predict, demo, video, serve): the
views' logits are averaged, both backends agree, and each mode gets its own temperature."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import ferlab
from ferlab.app import FaceAnalyzer
from ferlab.app.classifier import load_classifier
from ferlab.app.demo import ASTRONAUT
from ferlab.app.torch_backend import ExpressionClassifier
from ferlab.cli import main
from ferlab.data.labels import FER2013_CLASSES
from ferlab.errors import FerlabError
from ferlab.models import create_model
from ferlab.priors import OutputCalibration
from ferlab.weights import shipped_path


@pytest.fixture(scope="module")
def crops() -> np.ndarray:
    """Five random 48x48 grayscale uint8 crops, each different from its mirror."""
    return np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)


def test_flip_averages_the_logits_of_each_crop_and_its_mirror(crops: np.ndarray) -> None:
    torch.manual_seed(0)
    model = create_model("lenet_like", num_classes=7)
    plain = ExpressionClassifier(model, FER2013_CLASSES, "lenet", device=torch.device("cpu"))
    flip = ExpressionClassifier(model, FER2013_CLASSES, "lenet", device=torch.device("cpu"), tta="flip")
    expected = (plain.logits(crops, 2) + plain.logits(crops[:, :, ::-1].copy(), 2)) / 2
    np.testing.assert_allclose(flip.logits(crops, 2), expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(flip.logits(crops, 2), plain.logits(crops, 2), atol=1e-3)


@pytest.mark.parametrize("tta", ["none", "flip", "tencrop"])
@pytest.mark.parametrize(("prior", "key"), [("data", "tta_temperatures"), ("tuned", "tuned_tta_temperatures")])
def test_onnx_and_torch_agree_and_use_the_temperature_fitted_with_the_tta(
    crops: np.ndarray, tta: str, prior: str, key: str
) -> None:
    stored = torch.load(shipped_path("ferlab-fer2013"), map_location="cpu", weights_only=True)[key]
    on_torch = load_classifier("ferlab-fer2013", "torch", tta, prior)
    on_onnx = load_classifier("ferlab-fer2013", "onnx", tta, prior)
    assert on_torch.tta == on_onnx.tta == tta
    assert on_torch.temperature == pytest.approx(stored[tta]) and on_onnx.temperature == pytest.approx(stored[tta])
    np.testing.assert_allclose(on_onnx.predict_proba(crops, 3), on_torch.predict_proba(crops, 3), atol=1e-4)


def test_a_model_without_tta_temperatures_keeps_its_plain_one() -> None:
    assert OutputCalibration(1.3).temperature_for("tencrop", "data") == 1.3
    assert OutputCalibration(1.3, {"flip": 1.1}).temperature_for("flip", "data") == 1.1


def test_unknown_tta_is_a_one_line_error() -> None:
    with pytest.raises(FerlabError, match="unknown TTA mode 'mirror': expected one of none, flip, tencrop"):
        FaceAnalyzer("opencv", "ferlab-fer2013", tta="mirror")


def test_predict_cli_with_tta_matches_the_python_api(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["predict", str(ASTRONAUT), "--tta", "tencrop", "--json", "--out", str(tmp_path / "out")])
    assert exited.value.code == 0
    [image] = json.loads(capsys.readouterr().out)["images"]
    [face] = image["faces"]
    [expected] = ferlab.analyze(ASTRONAUT, tta="tencrop")
    plain = ferlab.analyze(ASTRONAUT)[0]["probabilities"]
    assert face["label"] == expected["label"] == "happy"
    for name, p in expected["probabilities"].items():
        assert face["probabilities"][name] == pytest.approx(p, abs=1e-5)
    assert max(abs(plain[name] - p) for name, p in expected["probabilities"].items()) > 1e-4
