"""`evaluate_model`: labels required, calibration on a validation set, occlusion wiring."""

from __future__ import annotations

import pytest
import torch

from ferlab.data.labels import FER2013_CLASSES
from ferlab.errors import DataError
from ferlab.evaluate import evaluate_model

CPU = torch.device("cpu")


@pytest.fixture
def model(brightness_model):
    return brightness_model(FER2013_CLASSES)


def test_unlabeled_split_is_a_data_error(make_faces, model) -> None:
    data = make_faces(FER2013_CLASSES, [-1] * 5, split="test")
    with pytest.raises(DataError, match="fer2013 split 'test' has no labels"):
        evaluate_model(model, data, FER2013_CLASSES, device=CPU)


def test_partly_unlabeled_split_scores_the_labelled_images(make_faces, model) -> None:
    result = evaluate_model(model, make_faces(FER2013_CLASSES, [0, -1, 3, -1]), FER2013_CLASSES, device=CPU)
    assert result.metrics["n_images"] == 2 and result.ids.tolist() == [0, 2]
    assert "2 unlabeled image(s) skipped" in result.notes


def test_temperature_is_fitted_on_the_calibration_set(make_faces, model) -> None:
    labels = [i % 7 for i in range(28)]
    test = make_faces(FER2013_CLASSES, labels, seed=1)
    val = make_faces(FER2013_CLASSES, labels, split="val", ids=range(100, 128), seed=2)
    metrics = evaluate_model(model, test, FER2013_CLASSES, device=CPU, calibration_set=val).metrics
    calibration = metrics["calibration"]
    assert calibration["fitted_on"] == "fer2013/val" and calibration["n_fit_images"] == 28
    assert metrics["temperature"] == calibration["temperature"] < 1  # right but unsure: sharpened
    assert calibration["nll_after"] < calibration["nll_before"]
    assert calibration["ece_before"] == metrics["ece"]


def test_calibration_is_skipped_with_a_reason(make_faces, model) -> None:
    test = make_faces(FER2013_CLASSES, range(7))
    result = evaluate_model(model, test, FER2013_CLASSES, device=CPU, calibration_skip_reason="no val split")
    assert result.metrics["calibration"] == {"skipped": "no val split"} and result.metrics["temperature"] is None
    assert "temperature scaling skipped: no val split" in result.notes
    unlabeled_val = make_faces(FER2013_CLASSES, [-1] * 3, split="val")
    result = evaluate_model(model, test, FER2013_CLASSES, device=CPU, calibration_set=unlabeled_val)
    assert result.metrics["calibration"] == {"skipped": "fer2013 split 'val' has no labels"}


def test_fitting_on_evaluated_images_is_noted(make_faces, model) -> None:
    test = make_faces(FER2013_CLASSES, range(7))
    result = evaluate_model(model, test, FER2013_CLASSES, device=CPU, calibration_set=test)
    assert any("in-sample calibration" in note for note in result.notes)


def test_occlusion_reaches_the_model_but_not_the_calibration_set(make_faces, model) -> None:
    labels = [i % 7 for i in range(14)]
    test, val = make_faces(FER2013_CLASSES, labels), make_faces(FER2013_CLASSES, labels, ids=range(50, 64))
    clean = evaluate_model(model, test, FER2013_CLASSES, device=CPU, calibration_set=val)
    # a gray band pulls the mean brightness toward 128: dark and bright classes get confused
    eyes = evaluate_model(model, test, FER2013_CLASSES, device=CPU, calibration_set=val, occlusion="eyes")
    assert clean.metrics["accuracy"] == 1.0 > eyes.metrics["accuracy"]
    assert eyes.metrics["occlusion"] == "eyes"
    assert eyes.metrics["calibration"]["n_fit_images"] == 14
    assert eyes.metrics["temperature"] == pytest.approx(clean.metrics["temperature"])
