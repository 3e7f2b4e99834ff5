"""`ExpressionClassifier`: a trained model turned into probabilities for face crops."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
import torch

from ferlab.data.labels import concept
from ferlab.engine.checkpoint import load_model
from ferlab.evaluate.predict import default_device, predict_logits
from ferlab.models.base import FerModel
from ferlab.weights import DEFAULT_MODEL, shipped_path


def resolve_model(model: str | Path) -> Path:
    """A shipped model name (``ferlab-ferplus``) or a run folder / model file → its path."""
    path = Path(model)
    if path.exists() or path.suffix == ".pt" or len(path.parts) > 1:
        return path
    return shipped_path(str(model))


class ExpressionClassifier:
    """Class probabilities for aligned face crops.

    Attributes:
        name: the model's display name (shipped name or file path).
        classes: class names in output order, as canonical words (``happy``, not
            FERPlus's ``happiness``) so every model speaks the same labels.
        input_size: ``(C, H, W)`` the model expects; crops are resized and converted to it.
        temperature: the logits are divided by it before the softmax (fitted on the
            validation split when the model was shipped; 1.0 otherwise).
    """

    def __init__(self, model: FerModel, classes: tuple[str, ...], name: str, temperature: float = 1.0,
                 device: Optional[torch.device] = None) -> None:
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.classes = tuple(concept(name) or name for name in classes)
        self.name = name
        self.temperature = float(temperature)
        self.input_size = tuple(model.input_size)
        self.device = device or default_device()

    @classmethod
    def load(cls, model: str | Path = DEFAULT_MODEL, device: Optional[torch.device] = None) -> "ExpressionClassifier":
        """Load a shipped model by name, or a run folder / model file."""
        path = resolve_model(model)
        network, record = load_model(path)
        return cls(network, tuple(record["classes"]), str(model), record.get("temperature", 1.0), device)

    @property
    def grayscale(self) -> bool:
        """Whether the model reads one-channel crops."""
        return self.input_size[0] == 1

    def predict_proba(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``(N, len(classes))`` float32 probabilities for uint8 crops ``(N, H, W[, 3])``."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        logits = predict_logits(self.model, crops, batch_size=batch_size, device=self.device)
        return torch.softmax(logits / self.temperature, dim=1).numpy()
