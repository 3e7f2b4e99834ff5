"""`CropClassifier`, the interface every classifier backend implements (torch-free)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

import numpy as np

from ferlab.checks import check_choice
from ferlab.data.labels import concept
from ferlab.errors import FerlabError
from ferlab.preprocess import TTA_MODES, Preprocessing
from ferlab.priors import DEFAULT_PRIOR, PRIORS, OutputCalibration


class CropClassifier(ABC):
    """Class probabilities for aligned face crops, whatever runs the model.

    Attributes:
        name: the model's display name (shipped name or file path).
        classes: class names in output order, as canonical words (``happy``, not
            FERPlus's ``happiness``) so every model speaks the same labels.
        preprocessing: what the model expects of a crop (size, channels, mean/std, crop
            margin; `ferlab.preprocess.Preprocessing`), as the model stores it.
        calibration: the prior and temperatures the model file carries.
        prior: the operating point, ``data``, ``balanced`` or ``tuned`` (see `ferlab.priors`).
        adjust: maps the model's logits to that operating point's (`ferlab.priors`).
        temperature: the adjusted logits are divided by it before the softmax (fitted on the
            validation split for this TTA and operating point when the model was shipped;
            1.0 otherwise; see `ferlab.priors.OutputCalibration.temperature_for`).
        tta: test-time augmentation, ``none``, ``flip`` (2 views) or ``tencrop`` (10
            views; see `ferlab.preprocess.tta_views`): the logits of the views are
            averaged, at 2x or 10x the compute per face.
    """

    backend: ClassVar[str]
    """What runs the model: ``torch`` or ``onnx``."""

    def __init__(
        self,
        classes: tuple[str, ...],
        name: str,
        calibration: OutputCalibration,
        preprocessing: Preprocessing,
        tta: str = "none",
        prior: str = DEFAULT_PRIOR,
    ) -> None:
        self.classes = tuple(concept(name) or name for name in classes)
        self.name = name
        self.preprocessing = preprocessing
        self.calibration = calibration
        self.tta = check_choice(tta, TTA_MODES, "TTA mode")
        self.prior = check_choice(prior, PRIORS, "prior")
        try:
            self.adjust = calibration.adjuster(prior)
        except FerlabError as error:
            raise FerlabError(f"{name}: {error}") from None
        self.temperature = calibration.temperature_for(tta, prior)

    @property
    def input_size(self) -> tuple[int, int, int]:
        """``(C, H, W)`` the model expects; crops are resized and converted to it."""
        return tuple(self.preprocessing.input_size)

    @property
    def grayscale(self) -> bool:
        """Whether the model reads one-channel crops."""
        return self.input_size[0] == 1

    @abstractmethod
    def logits(self, crops: np.ndarray, batch_size: int) -> np.ndarray:
        """``(N, len(classes))`` float32 logits (averaged over the `tta` views) for at least one uint8 crop."""

    def predict_proba(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``(N, len(classes))`` float32 probabilities for uint8 crops ``(N, H, W[, 3])``."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        logits = self.adjust(self.logits(crops, batch_size)) / np.float32(self.temperature)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)
