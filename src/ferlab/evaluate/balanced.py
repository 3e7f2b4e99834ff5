"""Class-balanced scores and their bootstrap confidence intervals (numpy + SciPy, torch-free).

Accuracy is dominated by the frequent classes (FERPlus test is 35% neutral and 28% happy), so
every report puts two class-balanced figures beside it:

* **balanced accuracy**: the mean of the per-class recalls over the classes that have at least
  one true image (scikit-learn's ``balanced_accuracy_score``); a classifier that always says
  the majority class scores ``1 / C``;
* **macro-F1**: the mean of the per-class F1 scores over the classes that have a true image or
  a prediction (torchmetrics' convention, which `ferlab.evaluate.metrics` reports).

Their 95% intervals come from `scipy.stats.bootstrap` over images (percentile method, a fixed
seed, so a rerun gives the same interval); accuracy's from the Wilson interval
(`ferlab.evaluate.paired.wilson_interval`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.stats import bootstrap

from ferlab.evaluate.paired import wilson_interval
from ferlab.priors import OutputCalibration

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 0
PRIOR_STRENGTHS: tuple[float, ...] = tuple(round(0.05 * step, 2) for step in range(1, 21))
"""The strengths `choose_prior_strength` tries for the tuned operating point, besides 0 (data):
0.05 to 1 in steps of 0.05 (0.25, 0.5 and 0.75 until 2026-12-05; `results/balanced.md`)."""
TUNED_ACCURACY_LOSS = 0.01
"""The most validation accuracy the tuned operating point may give up against the data point."""


def confusion_counts(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """``(C, C)`` counts, rows = true class, columns = predicted class."""
    flat = np.asarray(labels, dtype=np.int64) * num_classes + np.asarray(predictions, dtype=np.int64)
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def class_recalls(confusion: np.ndarray) -> np.ndarray:
    """The recall of each class (row) of ``confusion``; NaN for a class with no true image."""
    support = confusion.sum(axis=1)
    return np.divide(np.diag(confusion), support, out=np.full(len(support), np.nan), where=support > 0)


def balanced_accuracy(confusion: np.ndarray) -> float:
    """Mean recall over the classes (rows) with at least one true image."""
    recalls = class_recalls(confusion)
    return float(recalls[~np.isnan(recalls)].mean())


def macro_f1(confusion: np.ndarray) -> float:
    """Mean F1 over the classes with a true image or a prediction (0 where one of the two is 0)."""
    true_positive = np.diag(confusion).astype(float)
    support, predicted = confusion.sum(axis=1), confusion.sum(axis=0)
    scored = (support + predicted) > 0
    f1 = 2 * true_positive[scored] / (support + predicted)[scored]
    return float(f1.mean())


def balanced_intervals(
    labels: np.ndarray, predictions: np.ndarray, num_classes: int, confidence: float = 0.95
) -> dict[str, list[float]]:
    """95% intervals ``[low, high]`` of accuracy (Wilson), balanced accuracy and macro-F1 (bootstrap
    over images, `BOOTSTRAP_RESAMPLES` resamples, percentile method, seed `BOOTSTRAP_SEED`)."""
    labels, predictions = np.asarray(labels), np.asarray(predictions)
    correct = int((labels == predictions).sum())
    intervals = {"accuracy": list(wilson_interval(correct, len(labels), confidence))}
    for name, score in (("balanced_accuracy", balanced_accuracy), ("macro_f1", macro_f1)):
        result = bootstrap(
            (labels, predictions),
            lambda y, p, score=score: score(confusion_counts(y, p, num_classes)),
            paired=True,
            vectorized=False,
            n_resamples=BOOTSTRAP_RESAMPLES,
            confidence_level=confidence,
            method="percentile",
            rng=np.random.default_rng(BOOTSTRAP_SEED),
        )
        intervals[name] = [float(result.confidence_interval.low), float(result.confidence_interval.high)]
    return intervals


def tuned_decisions(
    raw_logits: np.ndarray, calibration: OutputCalibration, strength: float, columns: np.ndarray | None = None
) -> np.ndarray:
    """The tuned point's decisions at prior ``strength``: ``calibration``'s adjuster on the model's raw
    logits ``(N, C)`` (every class), then the argmax over ``columns`` (indices into them; default all)."""
    adjusted = replace(calibration, tuned_strength=strength).adjuster("tuned")(raw_logits)
    return (adjusted if columns is None else adjusted[:, np.asarray(columns)]).argmax(axis=1)


def prior_strength_scores(
    raw_logits: np.ndarray,
    labels: np.ndarray,
    calibration: OutputCalibration,
    columns: np.ndarray | None = None,
) -> dict[float, tuple[float, float]]:
    """Accuracy and balanced accuracy of the tuned point's decisions at 0 (the data point) and each of
    `PRIOR_STRENGTHS`, keyed by strength. ``raw_logits`` are the model's own, ``(N, C)`` in its class
    order; each strength decides as the application will, through ``calibration``'s adjuster. On a
    split with fewer classes than the model, ``columns`` are the scored classes' logit columns
    (`ferlab.evaluate.crossdata.LabelAlignment.logit_columns`; ``labels`` index them): the adjuster
    sees every class, the decision only the scored ones, as `evaluate_model` scores."""
    labels = np.asarray(labels)
    classes = np.shape(raw_logits)[1] if columns is None else len(columns)
    scores = {}
    for strength in (0.0, *PRIOR_STRENGTHS):
        decided = tuned_decisions(raw_logits, calibration, strength, columns)
        confusion = confusion_counts(labels, decided, classes)
        scores[strength] = (float(np.mean(decided == labels)), balanced_accuracy(confusion))
    return scores


def choose_prior_strength(raw_logits: np.ndarray, labels: np.ndarray, calibration: OutputCalibration) -> float:
    """The tuned operating point's prior strength ``s`` (`ferlab.priors`): among 0 (the data point)
    and `PRIOR_STRENGTHS`, the one whose decisions have the highest balanced accuracy on ``labels``
    with an accuracy at most `TUNED_ACCURACY_LOSS` below the data point's (ties: the smaller ``s``;
    scores by `prior_strength_scores`). Choose on a validation split, never on test."""
    return strength_from_scores(prior_strength_scores(raw_logits, labels, calibration))


def allowed_strengths(scores: dict[float, tuple[float, float]]) -> list[float]:
    """The strengths of `prior_strength_scores`'s ``scores`` whose accuracy is at most
    `TUNED_ACCURACY_LOSS` below the data point's (0 always among them)."""
    floor = scores[0.0][0] - TUNED_ACCURACY_LOSS - 1e-12
    return [s for s in scores if scores[s][0] >= floor]


def strength_from_scores(scores: dict[float, tuple[float, float]]) -> float:
    """`choose_prior_strength`'s pick from already computed ``scores``: the most balanced accuracy
    among `allowed_strengths`, ties to the smaller strength."""
    return max(allowed_strengths(scores), key=lambda s: (scores[s][1], -s))
