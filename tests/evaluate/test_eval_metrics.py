"""Scores on hand-made logits, and temperature scaling of over-confident logits."""

from __future__ import annotations

import pytest
import torch

from ferlab.evaluate import (
    calibration_scores,
    classification_metrics,
    expected_calibration_error,
    fit_temperature,
)

CLASSES = ("a", "b", "c")


def test_metrics_match_a_hand_computed_example() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2, 2])
    predicted = torch.tensor([0, 1, 1, 1, 2, 0])
    metrics = classification_metrics(torch.eye(3)[predicted], labels, CLASSES)
    assert metrics["n_images"] == 6
    assert metrics["accuracy"] == pytest.approx(4 / 6)
    # per class (tp, fp, fn): a (1, 1, 1), b (2, 1, 0), c (1, 0, 1)
    assert metrics["per_class"]["a"] == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2})
    assert metrics["per_class"]["b"] == pytest.approx({"precision": 2 / 3, "recall": 1.0, "f1": 0.8, "support": 2})
    assert metrics["per_class"]["c"] == pytest.approx({"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3)
    assert metrics["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_ece_of_a_confident_and_right_classifier_is_its_underconfidence() -> None:
    # every prediction right with confidence softmax([4, 0, 0])[0]: ECE = 1 - that confidence
    logits = torch.tensor([[4.0, 0.0, 0.0]] * 10)
    confidence = float(logits[0].softmax(0)[0])
    ece = expected_calibration_error(logits, torch.zeros(10, dtype=torch.long))
    assert ece == pytest.approx(1 - confidence, abs=1e-6)


def _calibrated_logits(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of a decent 5-class classifier with labels drawn from its own softmax (calibrated)."""
    generator = torch.Generator().manual_seed(seed)
    signal = torch.randint(0, 5, (n,), generator=generator)
    logits = torch.randn(n, 5, generator=generator) + 2.5 * torch.eye(5)[signal]
    labels = torch.multinomial(logits.softmax(1), 1, generator=generator).squeeze(1)
    return logits, labels


def test_temperature_scaling_repairs_overconfident_logits() -> None:
    val_logits, val_labels = _calibrated_logits(3000, seed=1)
    test_logits, test_labels = _calibrated_logits(3000, seed=2)
    temperature = fit_temperature(5 * val_logits, val_labels)
    assert 4.0 < temperature < 6.0  # it undoes the factor 5
    scores = calibration_scores(5 * test_logits, test_labels, temperature)
    assert scores["nll_after"] < 0.7 * scores["nll_before"]
    assert scores["ece_after"] < 0.3 * scores["ece_before"]


def test_temperature_of_calibrated_logits_is_near_one() -> None:
    logits, labels = _calibrated_logits(3000, seed=3)
    assert fit_temperature(logits, labels) == pytest.approx(1.0, abs=0.1)


def test_class_balanced_ece_weighs_every_class_the_same() -> None:
    # three class-0 images at confidence 0.9, right (bin 13 of 15); one class-1 image predicted 0 at 0.7 (bin 10).
    # Per image: (3 * 0.1 + 0.7) / 4; each class weighing the same: (0.1 + 0.7) / 2.
    logits = torch.log(torch.tensor([[0.9, 0.1]] * 3 + [[0.7, 0.3]]))
    labels = torch.tensor([0, 0, 0, 1])
    assert expected_calibration_error(logits, labels) == pytest.approx(0.25, abs=1e-6)
    assert expected_calibration_error(logits, labels, class_balanced=True) == pytest.approx(0.4, abs=1e-6)


def test_class_balanced_ece_is_torchmetrics_ece_when_classes_are_equally_common() -> None:
    logits = torch.randn(300, 5, generator=torch.Generator().manual_seed(4)) * 3
    labels = torch.arange(5).repeat(60)
    balanced = expected_calibration_error(logits, labels, class_balanced=True)
    assert balanced == pytest.approx(expected_calibration_error(logits, labels), abs=1e-6)


def test_a_class_balanced_temperature_is_the_one_fitted_on_classes_made_equally_common() -> None:
    logits, labels = _calibrated_logits(6000, seed=5)
    sizes = torch.tensor([600, 300, 200, 150, 100])  # class c keeps its first sizes[c] images
    keep = torch.cat([torch.where(labels == c)[0][:size] for c, size in enumerate(sizes.tolist())])
    logits, labels = 3 * logits[keep], labels[keep]
    repeats = (600 // sizes)[labels]  # each image repeated until every class has 600
    equal_logits, equal_labels = logits.repeat_interleave(repeats, 0), labels.repeat_interleave(repeats)
    weighted = fit_temperature(logits, labels, class_balanced=True)
    assert weighted == pytest.approx(fit_temperature(equal_logits, equal_labels), rel=1e-4)
    assert weighted != pytest.approx(fit_temperature(logits, labels), rel=1e-2)
    scores = calibration_scores(logits, labels, weighted, class_balanced=True)
    equal = calibration_scores(equal_logits, equal_labels, weighted)
    assert scores["weighting"] == "classes" and equal["weighting"] == "images"
    assert scores["nll_after"] == pytest.approx(equal["nll_after"], rel=1e-6)
    assert scores["ece_after"] == pytest.approx(equal["ece_after"], abs=1e-5)
