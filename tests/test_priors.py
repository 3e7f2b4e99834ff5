"""Operating points (issue #31): the training class prior stored with a model, and the balanced
point's logit adjustment, in the `.pt`, in the `.onnx` and in the classifiers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ferlab.app.crop_classifier import CropClassifier
from ferlab.app.onnx_runtime import OnnxClassifier
from ferlab.app.torch_backend import ExpressionClassifier
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.errors import FerlabError
from ferlab.models import create_model
from ferlab.models.onnx_export import export_onnx
from ferlab.preprocess import Preprocessing
from ferlab.priors import OutputCalibration

CLASSES = ("neutral", "happy", "sad")
PRIOR = (0.7, 0.2, 0.1)


class FixedLogits(CropClassifier):
    """A classifier whose logits are given, to check the arithmetic of the operating points."""

    backend = "onnx"

    def __init__(self, logits: np.ndarray, calibration: OutputCalibration, prior: str) -> None:
        super().__init__(CLASSES, "fixed", calibration, Preprocessing((1, 48, 48)), prior=prior)
        self.fixed = np.asarray(logits, dtype=np.float32)

    def logits(self, crops: np.ndarray, batch_size: int) -> np.ndarray:
        return np.repeat(self.fixed[None], len(crops), axis=0)


def test_the_balanced_point_changes_the_decision_exactly_as_the_formula_says() -> None:
    logits = np.array([1.0, 0.0, -0.5])
    crop = np.zeros((1, 48, 48), np.uint8)
    calibration = OutputCalibration(temperature=1.0, class_prior=PRIOR)
    data = FixedLogits(logits, calibration, "data").predict_proba(crop)[0]
    balanced = FixedLogits(logits, calibration, "balanced").predict_proba(crop)[0]
    np.testing.assert_allclose(data, np.exp(logits) / np.exp(logits).sum(), rtol=1e-6)
    adjusted = logits - np.log(PRIOR)  # [1.357, 1.609, 1.803]: sad wins, neutral wins before
    np.testing.assert_allclose(balanced, np.exp(adjusted) / np.exp(adjusted).sum(), rtol=1e-6)
    assert data.argmax() == 0 and balanced.argmax() == 2


def test_a_logit_adjusted_model_gets_its_tau_back_at_either_point() -> None:
    calibration = OutputCalibration(class_prior=PRIOR, logit_adjustment=1.0)
    zeros = np.zeros((1, 3))
    np.testing.assert_allclose(calibration.adjuster("data")(zeros)[0], np.log(PRIOR), rtol=1e-6)
    np.testing.assert_allclose(calibration.adjuster("balanced")(zeros)[0], 0.0, atol=1e-7)


def test_a_class_weighted_model_has_its_weights_taken_out_at_either_point() -> None:
    """Trained with class weights w, raw logits lean by log w: data = raw - log w, balanced = raw - log w
    - log prior; a class weighted 0 (absent in training) keeps its logit."""
    calibration = OutputCalibration(class_prior=PRIOR, class_weights=(0.5, 2.0, 0.0))
    raw = np.array([[1.0, 0.0, -0.5]])
    lean = np.log([0.5, 2.0, 1.0])
    np.testing.assert_allclose(calibration.adjuster("data")(raw), raw - lean, rtol=1e-6)
    np.testing.assert_allclose(calibration.adjuster("balanced")(raw), raw - lean - np.log(PRIOR), rtol=1e-6)


def test_the_balanced_point_of_a_smoothed_model_takes_out_the_smoothing_floor_first() -> None:
    """By hand: eps 0.15 over 3 classes puts a floor of 0.05 under every probability. Sad at the
    floor (p = 0.05) has no evidence, yet p / prior makes it win (0.05 / 0.01 = 5); without the
    floor q = [0.45, 0.40, 0] / 0.85 = [0.529, 0.471, 1e-4 kept], and q / prior makes happy win."""
    prior = (0.6, 0.39, 0.01)
    p = np.array([0.5, 0.45, 0.05])
    crop = np.zeros((1, 48, 48), np.uint8)
    plain = FixedLogits(np.log(p), OutputCalibration(class_prior=prior), "balanced").predict_proba(crop)[0]
    smoothed = OutputCalibration(class_prior=prior, label_smoothing=0.15)
    balanced = FixedLogits(np.log(p), smoothed, "balanced").predict_proba(crop)[0]
    data = FixedLogits(np.log(p), smoothed, "data").predict_proba(crop)[0]
    ratio = np.array([0.45 / 0.85 / 0.6, 0.40 / 0.85 / 0.39, 1e-4 / 0.01])
    np.testing.assert_allclose(balanced, ratio / ratio.sum(), rtol=1e-5)
    np.testing.assert_allclose(data, p, rtol=1e-5)  # the data point keeps the model's own output
    assert plain.argmax() == 2 and balanced.argmax() == 1 and data.argmax() == 0


def test_the_tuned_point_moves_the_logits_by_its_stored_strength() -> None:
    """data - s log prior with s = 0.5: [1.178, 1.405, 1.351], happy wins; the data point says
    neutral, the balanced one ([1.357, 2.209, 2.503]) sad."""
    logits = np.array([1.0, 0.6, 0.2])
    crop = np.zeros((1, 48, 48), np.uint8)
    calibration = OutputCalibration(class_prior=PRIOR, tuned_strength=0.5)
    tuned = FixedLogits(logits, calibration, "tuned").predict_proba(crop)[0]
    adjusted = logits - 0.5 * np.log(PRIOR)
    np.testing.assert_allclose(tuned, np.exp(adjusted) / np.exp(adjusted).sum(), rtol=1e-6)
    decisions = [
        FixedLogits(logits, calibration, p).predict_proba(crop)[0].argmax() for p in ("data", "tuned", "balanced")
    ]
    assert decisions == [0, 1, 2]


def test_each_point_uses_its_own_temperature_and_a_model_without_a_prior_has_only_data() -> None:
    calibration = OutputCalibration(1.2, {"none": 1.2, "flip": 1.1}, {"none": 0.9}, PRIOR, tuned_strength=0.25)
    assert calibration.temperature_for("flip", "data") == 1.1
    assert calibration.temperature_for("flip", "balanced") == 0.9
    assert calibration.temperature_for("flip", "tuned") == 1.1  # never fitted: the data point's
    assert calibration.with_fitted("tuned", {"none": 1.05}).temperature_for("flip", "tuned") == 1.05
    with pytest.raises(FerlabError, match="no training class prior"):
        FixedLogits(np.zeros(3), OutputCalibration(), "balanced")
    crop, logits = np.zeros((1, 48, 48), np.uint8), np.array([1.0, 0.6, 0.2])
    for stored in (OutputCalibration(class_prior=PRIOR), OutputCalibration()):  # no strength: tuned is data
        tuned = FixedLogits(logits, stored, "tuned").predict_proba(crop)
        np.testing.assert_array_equal(tuned, FixedLogits(logits, stored, "data").predict_proba(crop))
        assert stored.strength("tuned") == 0.0
    with pytest.raises(FerlabError, match="unknown prior 'uniform'"):
        FixedLogits(np.zeros(3), OutputCalibration(class_prior=PRIOR), "uniform")


def test_the_stored_prior_round_trips_through_the_pt_and_the_onnx(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("lenet_like", num_classes=3)
    weights = (0.5, 1.0, 2.0)
    record = model_record(model, "lenet_like", {}, CLASSES, None, PRIOR, 0.5, 0.1, weights)
    calibration = OutputCalibration(1.3, {"none": 1.3}, {"none": 0.8}, PRIOR, 0.5, 0.1, weights, 0.25, {"none": 1.1})
    record.update(calibration.to_record())
    save_atomically(record, tmp_path / "model.pt")
    onnx = export_onnx(tmp_path / "model.pt", tmp_path / "model.onnx")
    crops = np.random.default_rng(0).integers(0, 256, (4, 48, 48), dtype=np.uint8)
    for point, temperature in (("data", 1.3), ("balanced", 0.8), ("tuned", 1.1)):
        on_torch = ExpressionClassifier.load(tmp_path / "model.pt", device=torch.device("cpu"), prior=point)
        on_onnx = OnnxClassifier.load(onnx, prior=point)
        for classifier in (on_torch, on_onnx):
            assert classifier.calibration == calibration
            assert classifier.temperature == pytest.approx(temperature)
        np.testing.assert_allclose(on_onnx.predict_proba(crops), on_torch.predict_proba(crops), atol=1e-5)
    stored = torch.load(tmp_path / "model.pt", weights_only=True)
    assert stored["class_prior"] == pytest.approx(PRIOR) and stored["logit_adjustment"] == 0.5
    assert stored["label_smoothing"] == 0.1 and stored["class_weights"] == pytest.approx(weights)
    assert stored["tuned_strength"] == 0.25
