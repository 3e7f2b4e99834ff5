"""Classification and calibration scores of logits against labels, computed with torchmetrics."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassCalibrationError,
    MulticlassConfusionMatrix,
    MulticlassF1Score,
    MulticlassPrecision,
    MulticlassRecall,
)

from ferlab.engine.losses import inverse_frequency_weights
from ferlab.evaluate.balanced import balanced_accuracy, balanced_intervals, confusion_counts

ECE_BINS = 15
"""Equal-width confidence bins of the expected calibration error (Guo et al. 2017 use 15)."""


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, classes: Sequence[str]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix.

    Args:
        logits: ``(N, K)`` scores; the prediction is their argmax.
        labels: ``(N,)`` class indices in ``0..K-1``.
        classes: the ``K`` class names, in logit order.

    Returns:
        ``accuracy`` (micro), ``balanced_accuracy`` (mean per-class recall over the classes with
        a true image), ``macro_f1`` (classes with neither a label nor a prediction
        are left out of the mean, as torchmetrics does), ``per_class`` (name → precision,
        recall, f1, support; 0 where undefined), ``confusion`` (rows = true class,
        columns = predicted), ``nll`` and ``ece`` (see `expected_calibration_error`), and
        ``intervals``: 95% intervals of accuracy, balanced accuracy and macro-F1
        (`ferlab.evaluate.balanced.balanced_intervals`).
    """
    num_classes = len(classes)
    logits, labels = logits.detach().float().cpu(), labels.detach().long().cpu()
    per_class = {
        "precision": MulticlassPrecision(num_classes, average=None)(logits, labels),
        "recall": MulticlassRecall(num_classes, average=None)(logits, labels),
        "f1": MulticlassF1Score(num_classes, average=None)(logits, labels),
    }
    support = torch.bincount(labels, minlength=num_classes)
    predictions = logits.argmax(dim=1).numpy()
    return {
        "n_images": int(labels.numel()),
        "accuracy": float(MulticlassAccuracy(num_classes, average="micro")(logits, labels)),
        "balanced_accuracy": balanced_accuracy(confusion_counts(labels.numpy(), predictions, num_classes)),
        "macro_f1": float(MulticlassF1Score(num_classes, average="macro")(logits, labels)),
        "intervals": balanced_intervals(labels.numpy(), predictions, num_classes),
        "nll": negative_log_likelihood(logits, labels),
        "ece": expected_calibration_error(logits, labels),
        "per_class": {
            name: {**{key: float(values[i]) for key, values in per_class.items()}, "support": int(support[i])}
            for i, name in enumerate(classes)
        },
        "confusion": MulticlassConfusionMatrix(num_classes)(logits, labels).tolist(),
    }


def expected_calibration_error(
    logits: torch.Tensor, labels: torch.Tensor, n_bins: int = ECE_BINS, class_balanced: bool = False
) -> float:
    """Top-label ECE (L1 over ``n_bins`` equal-width confidence bins) of ``softmax(logits)``.

    ``class_balanced`` weights each image by its class's inverse frequency
    (`ferlab.engine.losses.inverse_frequency_weights`): the ECE of a set with every class
    equally common, the one a balanced operating point's probabilities speak of (`ferlab.priors`).
    torchmetrics takes no weights, so that case bins as it does (``bucketize(right=True)`` on
    ``linspace(0, 1, n_bins + 1)``) and sums ``|weighted accuracy - weighted confidence|`` per bin.
    """
    probabilities = logits.detach().double().cpu().softmax(dim=1)
    labels = labels.detach().long().cpu()
    if not class_balanced:
        metric = MulticlassCalibrationError(probabilities.shape[1], n_bins=n_bins, norm="l1")
        return float(metric(probabilities.float(), labels))
    weights = inverse_frequency_weights(labels, probabilities.shape[1]).double()[labels]
    confidence, prediction = probabilities.max(dim=1)
    bins = torch.bucketize(confidence, torch.linspace(0, 1, n_bins + 1, dtype=torch.float64), right=True) - 1
    gap = torch.zeros(n_bins + 1, dtype=torch.float64)
    gap.scatter_add_(0, bins, weights * ((prediction == labels).double() - confidence))
    return float(gap.abs().sum() / weights.sum())


def negative_log_likelihood(logits: torch.Tensor, labels: torch.Tensor, class_balanced: bool = False) -> float:
    """Mean cross-entropy of ``softmax(logits)`` against the labels (``class_balanced``: each image
    weighted by its class's inverse frequency, so every class counts the same)."""
    logits, labels = logits.detach().double().cpu(), labels.detach().long().cpu()
    weight = inverse_frequency_weights(labels, logits.shape[1]).double() if class_balanced else None
    return float(F.cross_entropy(logits, labels, weight=weight))
