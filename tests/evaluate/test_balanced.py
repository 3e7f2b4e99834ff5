"""Balanced accuracy and macro-F1 against hand counts, and their bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ferlab.evaluate import classification_metrics
from ferlab.evaluate.balanced import (
    PRIOR_STRENGTHS,
    balanced_accuracy,
    balanced_intervals,
    choose_prior_strength,
    confusion_counts,
    macro_f1,
    prior_strength_scores,
)
from ferlab.priors import OutputCalibration


def test_balanced_accuracy_and_macro_f1_of_a_toy_confusion_match_a_hand_count() -> None:
    # 10 images of a (8 right, 2 called b), 4 of b (1 right, 3 called a), 2 of c (both right),
    # and one more c called d; no image is of d, so d is in macro-F1 (predicted) but not in mean recall
    labels = np.array([0] * 10 + [1] * 4 + [2] * 2 + [2])
    predictions = np.array([0] * 8 + [1] * 2 + [1] + [0] * 3 + [2, 2] + [3])
    confusion = confusion_counts(labels, predictions, 4)
    assert confusion.tolist() == [[8, 2, 0, 0], [3, 1, 0, 0], [0, 0, 2, 1], [0, 0, 0, 0]]
    # recalls: a 8/10, b 1/4, c 2/3; d has no true image and is left out of the mean
    assert balanced_accuracy(confusion) == pytest.approx((0.8 + 0.25 + 2 / 3) / 3)
    # F1 = 2 tp / (support + predicted): a 16/21, b 2/7, c 4/5, d 0 (predicted once, never true)
    assert macro_f1(confusion) == pytest.approx((16 / 21 + 2 / 7 + 4 / 5 + 0) / 4)
    # accuracy alone says 11/17 = 65%: the frequent class hides b
    assert (labels == predictions).mean() == pytest.approx(11 / 17)


def test_the_report_carries_the_same_balanced_figures_and_agrees_with_torchmetrics() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 5, 400)
    predictions = np.where(rng.random(400) < 0.5, labels, rng.integers(0, 5, 400))
    metrics = classification_metrics(torch.eye(5)[predictions], torch.from_numpy(labels), "abcde")
    confusion = confusion_counts(labels, predictions, 5)
    assert metrics["balanced_accuracy"] == pytest.approx(balanced_accuracy(confusion))
    assert metrics["macro_f1"] == pytest.approx(macro_f1(confusion), abs=1e-6)  # torchmetrics' value
    recalls = [metrics["per_class"][name]["recall"] for name in "abcde"]
    assert metrics["balanced_accuracy"] == pytest.approx(np.mean(recalls), abs=1e-6)


def test_intervals_hold_the_estimate_shrink_with_more_images_and_repeat_exactly() -> None:
    rng = np.random.default_rng(0)

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.integers(0, 4, n)
        return labels, np.where(rng.random(n) < 0.6, labels, rng.integers(0, 4, n))

    small, large = sample(200), sample(5000)
    widths = {}
    for name, (labels, predictions) in (("small", small), ("large", large)):
        intervals = balanced_intervals(labels, predictions, 4)
        estimate = balanced_accuracy(confusion_counts(labels, predictions, 4))
        low, high = intervals["balanced_accuracy"]
        assert low < estimate < high
        widths[name] = high - low
        assert intervals == balanced_intervals(labels, predictions, 4)  # fixed seed
    assert widths["large"] < widths["small"] / 3


def test_the_tuned_strength_is_the_most_mean_recall_within_a_point_of_accuracy() -> None:
    """Prior (0.9, 0.1): strength s adds 2.197 s to the rare class's margin. 10 rare images at raw
    margins -0.3 (2), -0.8 (2), -1.5 (2), -3 (4) turn right from s = 0.15, 0.40, 0.70, never; of 100
    frequent ones at -5, one at -1.0 turns wrong from s = 0.50 and nine at -1.4 from s = 0.65. By
    hand: accuracy / mean recall 100/110 / 0.5 (s = 0), 102/110 / 0.6 (0.15), 104/110 / 0.7 (0.40 to
    0.45), 103/110 / 0.695 (0.50), 94/110 / 0.65 (0.65): 0.65 and above lose more than a point of
    accuracy (85.5% against 90.9%), and the tie between 0.40 and 0.45 goes to 0.40."""
    rare = [-0.3] * 2 + [-0.8] * 2 + [-1.5] * 2 + [-3.0] * 4
    frequent = [-5.0] * 90 + [-1.0] + [-1.4] * 9
    margins = np.array(frequent + rare)
    raw = np.stack([np.zeros_like(margins), margins], axis=1)
    labels = np.array([0] * 100 + [1] * 10)
    calibration = OutputCalibration(class_prior=(0.9, 0.1))
    assert choose_prior_strength(raw, labels, calibration) == 0.4
    scores = prior_strength_scores(raw, labels, calibration)
    assert set(scores) == {0.0, *PRIOR_STRENGTHS}
    assert scores[0.0] == pytest.approx((100 / 110, 0.5))
    assert scores[0.4] == pytest.approx((104 / 110, 0.7))
    assert scores[0.5] == pytest.approx((103 / 110, 0.695))
    assert scores[0.65] == pytest.approx((94 / 110, 0.65))
    # with nothing to gain, the data point stays: a tie goes to the smaller strength
    assert choose_prior_strength(np.array([[1.0, -9.0], [-9.0, 1.0]]), np.array([0, 1]), calibration) == 0.0


def test_the_strength_grid_scores_a_split_of_fewer_classes_on_their_columns() -> None:
    """A 3-class model (prior 0.5, 0.25, 0.25) on a split of its first two classes: class 2's large
    logit is never a decision, and strength s adds 0.693 s to class 1's margin over class 0, so the
    class-1 face at margin -0.2 turns right from s = 0.3 and the class-0 face (class 1 at -3) stays
    right; labels index the scored columns."""
    raw = np.array([[0.0, -3.0, 10.0], [0.0, -0.2, 10.0]])
    calibration = OutputCalibration(class_prior=(0.5, 0.25, 0.25))
    scores = prior_strength_scores(raw, np.array([0, 1]), calibration, columns=np.array([0, 1]))
    assert scores[0.0] == pytest.approx((0.5, 0.5))
    assert scores[0.25] == pytest.approx((0.5, 0.5))
    assert scores[0.3] == pytest.approx((1.0, 1.0))
    assert scores[1.0] == pytest.approx((1.0, 1.0))
