"""`ExpressionClassifier`: the PyTorch backend of `ferlab.app.classifier.CropClassifier`.

Needs the training extra (``pip install "ferlab[train]"``); imported only when the torch
backend is asked for (``--backend torch``) or a model file has no ONNX export at hand.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ferlab.app.crop_classifier import CropClassifier
from ferlab.models.base import FerModel
from ferlab.models.files import load_model
from ferlab.preprocess import model_inputs, preprocessing_of, tta_views
from ferlab.priors import DEFAULT_PRIOR, OutputCalibration
from ferlab.weights import DEFAULT_MODEL, resolve_model


class ExpressionClassifier(CropClassifier):
    """The PyTorch backend: runs the model on ``device`` (default: CUDA when available)."""

    backend = "torch"

    def __init__(
        self,
        model: FerModel,
        classes: tuple[str, ...],
        name: str,
        calibration: OutputCalibration | None = None,
        device: torch.device | None = None,
        tta: str = "none",
        prior: str = DEFAULT_PRIOR,
    ) -> None:
        preprocessing = preprocessing_of(model)
        super().__init__(classes, name, calibration or OutputCalibration(), preprocessing, tta, prior)
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model.to(self.device)

    @classmethod
    def load(
        cls,
        model: str | Path = DEFAULT_MODEL,
        device: torch.device | None = None,
        tta: str = "none",
        prior: str = DEFAULT_PRIOR,
    ) -> ExpressionClassifier:
        """Load a shipped model by name, or a run folder / model file."""
        network, record = load_model(resolve_model(model))
        calibration = OutputCalibration.from_record(record)
        return cls(network, tuple(record["classes"]), str(model), calibration, device, tta, prior)

    @torch.inference_mode()
    def logits(self, crops: np.ndarray, batch_size: int) -> np.ndarray:
        """The model's logits for uint8 crops, averaged over the TTA views (the ONNX backend's inputs)."""
        outputs = []
        for start in range(0, len(crops), batch_size):
            x = model_inputs(crops[start : start + batch_size], self.preprocessing)
            views = [
                self.model(torch.from_numpy(v).to(self.device, memory_format=torch.channels_last))
                for v in tta_views(x, self.tta)
            ]
            outputs.append(torch.stack(views).mean(dim=0).float().cpu().numpy())
        return np.concatenate(outputs)
