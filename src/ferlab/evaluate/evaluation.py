"""`evaluate_model`: one model on one labelled split, scored and (optionally) calibrated."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ferlab.app.crop_classifier import CropClassifier
from ferlab.data import FaceDataset
from ferlab.errors import DataError
from ferlab.evaluate.calibration import calibration_scores, fit_temperature
from ferlab.evaluate.crossdata import LabelAlignment, align_labels
from ferlab.evaluate.inference import predict_logits
from ferlab.evaluate.metrics import classification_metrics
from ferlab.evaluate.robustness import occlude


@dataclass
class EvalResult:
    """What `evaluate_model` measured.

    Attributes:
        logits: ``(N, K)`` float32 logits of the scored images over the scored classes,
            before temperature scaling (divide by ``metrics["temperature"]`` to calibrate).
        labels: ``(N,)`` true class indices into ``classes``.
        classes: the scored class names (the model's; only the shared ones cross-dataset).
        ids: the dataset ids of the scored images.
        metrics: `ferlab.evaluate.metrics.classification_metrics` plus ``calibration``,
            ``temperature``, ``cross_dataset``, ``tta``, ``occlusion``, ``data``, ``split``.
        notes: plain-language remarks (skipped calibration, dropped images, ...).
    """

    logits: torch.Tensor
    labels: torch.Tensor
    classes: tuple[str, ...]
    ids: np.ndarray
    metrics: dict[str, Any]
    notes: list[str] = field(default_factory=list)


def _scored_logits(
    model: nn.Module | CropClassifier,
    dataset: FaceDataset,
    alignment: LabelAlignment,
    tta: str,
    batch_size: int,
    device: torch.device | None,
    occlusion: str = "none",
    seed: int = 0,
    adjust_logits: Callable[[np.ndarray], np.ndarray] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, np.ndarray]:
    """Logits over the scored classes, labels in that space, and the mask of images kept."""
    labels = alignment.map(dataset.labels)
    keep = labels >= 0
    images = occlude(dataset.images[keep], occlusion, seed)
    if isinstance(model, CropClassifier):  # its own TTA views (`evaluate_model` checks they are ``tta``)
        logits = torch.from_numpy(model.logits(images, batch_size))
    else:
        logits = predict_logits(model, images, tta, batch_size, device)
    if adjust_logits is not None:
        logits = torch.from_numpy(adjust_logits(logits.cpu().numpy()))
    return logits[:, torch.from_numpy(alignment.logit_columns)], torch.from_numpy(labels[keep]), keep


def _has_labels(dataset: FaceDataset) -> bool:
    return bool((dataset.labels >= 0).any())


def evaluate_model(
    model: nn.Module | CropClassifier,
    dataset: FaceDataset,
    classes: Sequence[str],
    tta: str = "none",
    batch_size: int = 256,
    device: torch.device | str | None = None,
    occlusion: str = "none",
    seed: int = 0,
    calibration_set: FaceDataset | None = None,
    calibration_skip_reason: str = "no validation set given",
    adjust_logits: Callable[[np.ndarray], np.ndarray] | None = None,
    class_balanced_calibration: bool = False,
) -> EvalResult:
    """Score ``model`` (whose logits are in ``classes`` order) on a labelled ``dataset``.

    Args:
        model: a ferlab model (``in_chans``, ``input_size``, ``num_classes``); put in eval
            mode and moved to ``device``. Or an application classifier (`ferlab.app.crop_classifier.CropClassifier`,
            such as the ONNX Runtime one) whose raw logits are scored, with its own TTA mode, which must be ``tta``.
        dataset: the images to score; unlabeled images (label -1) are skipped.
        classes: the model's class names, used to map the dataset's labels onto the model's
            outputs by meaning when the label sets differ (see `ferlab.evaluate.crossdata`).
        tta: ``none``, ``flip`` or ``tencrop``; logits are averaged over the views.
        batch_size: images per forward pass.
        device: default CUDA when available, else CPU.
        occlusion: ``none``, ``random``, ``eyes`` or ``mouth`` (see `ferlab.evaluate.robustness`),
            applied to ``dataset`` only, never to ``calibration_set``.
        seed: seed of the ``random`` occlusion.
        calibration_set: labelled held-out images (the validation split) to fit the
            temperature on, with the same TTA; None skips temperature scaling.
        calibration_skip_reason: why ``calibration_set`` is None, for the notes.
        adjust_logits: maps the model's logits ``(N, C)``, all its classes, to those scored and
            calibrated: the operating point (`ferlab.priors.OutputCalibration.adjuster`).
        class_balanced_calibration: fit the temperature and measure calibration with every class
            weighing the same (`ferlab.evaluate.calibration`): for the balanced operating point.

    Raises:
        DataError: the dataset has no labels, or no image of a class the model knows.
    """
    where = f"{dataset.name} split {dataset.split!r}"
    if not _has_labels(dataset):
        raise DataError(f"{where} has no labels (e.g. Kaggle's test.csv); evaluate a labelled split")
    if isinstance(model, CropClassifier) and model.tta != tta:
        raise ValueError(f"the classifier runs TTA {model.tta!r}, not the {tta!r} asked")
    device = torch.device(device) if device is not None else None
    alignment = align_labels(dataset.classes, classes)
    logits, labels, keep = _scored_logits(
        model, dataset, alignment, tta, batch_size, device, occlusion, seed, adjust_logits
    )
    if labels.numel() == 0:
        raise DataError(f"{where}: no image has a class the model knows ({', '.join(classes)})")
    notes = []
    unlabeled = int((dataset.labels < 0).sum())
    if unlabeled:
        notes.append(f"{unlabeled} unlabeled image(s) skipped")
    cross = alignment.summary(dataset.labels) if alignment.cross_dataset else None
    if cross:
        notes.append(
            f"cross-dataset: scored the {len(alignment.classes)} shared classes ({', '.join(alignment.classes)}); "
            f"dropped {cross['dropped_images']} image(s) of classes the model lacks "
            f"({', '.join(cross['dropped_by_class']) or 'none'})"
        )
    metrics = classification_metrics(logits, labels, alignment.classes)
    calibration: dict[str, Any] = {"skipped": calibration_skip_reason}
    if calibration_set is not None and not _has_labels(calibration_set):
        calibration = {"skipped": f"{calibration_set.name} split {calibration_set.split!r} has no labels"}
    elif calibration_set is not None:
        fit_logits, fit_labels, _ = _scored_logits(
            model, calibration_set, alignment, tta, batch_size, device, adjust_logits=adjust_logits
        )
        temperature = fit_temperature(fit_logits, fit_labels, class_balanced=class_balanced_calibration)
        calibration = {
            **calibration_scores(logits, labels, temperature, class_balanced_calibration),
            "fitted_on": f"{calibration_set.name}/{calibration_set.split}",
            "n_fit_images": int(fit_labels.numel()),
        }
        if np.isin(calibration_set.ids, dataset.ids).any():
            notes.append("the temperature was fitted on images that are also evaluated (in-sample calibration)")
    if "skipped" in calibration:
        notes.append(f"temperature scaling skipped: {calibration['skipped']}")
    metrics.update(
        data=dataset.name,
        split=dataset.split,
        tta=tta,
        occlusion=occlusion,
        cross_dataset=cross,
        calibration=calibration,
        temperature=calibration.get("temperature"),
    )
    return EvalResult(logits, labels, alignment.classes, dataset.ids[keep], metrics, notes)
