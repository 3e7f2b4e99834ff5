"""Expression classifiers: a trained model turned into probabilities for face crops.

`CropClassifier` is the interface the face pipeline uses; `ExpressionClassifier` runs the
PyTorch model, `ferlab.app.onnx_backend.OnnxClassifier` its ONNX export on ONNX Runtime.
`load_classifier` picks one by backend name.
"""

from __future__ import annotations

import importlib.util
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Optional

import numpy as np
import torch

from ferlab.data.labels import concept
from ferlab.data.transforms import TTA_MODES
from ferlab.engine.checkpoint import load_model
from ferlab.evaluate.options import check_choice
from ferlab.evaluate.predict import default_device, predict_logits
from ferlab.models.base import FerModel
from ferlab.weights import DEFAULT_MODEL, WEIGHTS_DIR, resolve_model, shipped_onnx

BACKENDS: tuple[str, ...] = ("auto", "torch", "onnx")
"""Inference backends: PyTorch, ONNX Runtime on the CPU (see `ferlab.app.onnx_backend`), or
``auto``: the faster one that can run here (see `resolve_backend`)."""


class CropClassifier(ABC):
    """Class probabilities for aligned face crops, whatever runs the model.

    Attributes:
        name: the model's display name (shipped name or file path).
        classes: class names in output order, as canonical words (``happy``, not
            FERPlus's ``happiness``) so every model speaks the same labels.
        input_size: ``(C, H, W)`` the model expects; crops are resized and converted to it.
        temperature: the logits are divided by it before the softmax (fitted on the
            validation split, with this TTA when the model stores one, when the model
            was shipped; 1.0 otherwise; see `tta_temperature`).
        tta: test-time augmentation, ``none``, ``flip`` (2 views) or ``tencrop`` (10
            views; see `ferlab.data.transforms.tta_views`): the logits of the views are
            averaged, at 2x or 10x the compute per face.
    """

    backend: ClassVar[str]
    """What runs the model: ``torch`` or ``onnx``."""

    def __init__(self, classes: tuple[str, ...], name: str, temperature: float,
                 input_size: tuple[int, int, int], tta: str = "none") -> None:
        self.classes = tuple(concept(name) or name for name in classes)
        self.name = name
        self.temperature = float(temperature)
        self.input_size = tuple(input_size)
        self.tta = check_choice(tta, TTA_MODES, "TTA mode")

    @property
    def grayscale(self) -> bool:
        """Whether the model reads one-channel crops."""
        return self.input_size[0] == 1

    @abstractmethod
    def logits(self, crops: np.ndarray, batch_size: int) -> torch.Tensor:
        """``(N, len(classes))`` float32 logits (on the CPU, averaged over the `tta` views) for
        at least one uint8 crop."""

    def predict_proba(self, crops: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """``(N, len(classes))`` float32 probabilities for uint8 crops ``(N, H, W[, 3])``."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        # numpy, not torch.softmax: torch's kernel wakes its OpenMP threads even for 64x8, and
        # their spinning took 12% of ONNX Runtime's batch-64 throughput (2-core CPU).
        logits = self.logits(crops, batch_size).numpy() / np.float32(self.temperature)
        exp = np.exp(logits - logits.max(axis=1, keepdims=True))
        return exp / exp.sum(axis=1, keepdims=True)


class ExpressionClassifier(CropClassifier):
    """The PyTorch backend: runs the model on ``device`` (default: CUDA when available)."""

    backend = "torch"

    def __init__(self, model: FerModel, classes: tuple[str, ...], name: str, temperature: float = 1.0,
                 device: Optional[torch.device] = None, tta: str = "none") -> None:
        super().__init__(classes, name, temperature, tuple(model.input_size), tta)
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.device = device or default_device()

    @classmethod
    def load(cls, model: str | Path = DEFAULT_MODEL, device: Optional[torch.device] = None,
             tta: str = "none") -> "ExpressionClassifier":
        """Load a shipped model by name, or a run folder / model file."""
        path = resolve_model(model)
        network, record = load_model(path)
        temperature = tta_temperature(record.get("temperature", 1.0), record.get("tta_temperatures", {}), tta)
        return cls(network, tuple(record["classes"]), str(model), temperature, device, tta)

    def logits(self, crops: np.ndarray, batch_size: int) -> torch.Tensor:
        """The model's logits for uint8 crops (see `ferlab.evaluate.predict.predict_logits`)."""
        return predict_logits(self.model, crops, tta=self.tta, batch_size=batch_size, device=self.device)


def tta_temperature(temperature: float, by_tta: Mapping[str, float], tta: str) -> float:
    """The temperature a model stores for ``tta`` (``tools/ship_model.py`` fits one per TTA
    mode), else its plain one: averaging views sharpens or softens the logits a little."""
    return float(by_tta.get(tta, temperature))


def resolve_backend(model: str | Path, backend: str = "auto") -> str:
    """``torch`` or ``onnx`` for ``backend``; ``auto`` picks ONNX Runtime when it can run the model.

    ``auto`` means ``onnx`` when there is no CUDA device, ``onnxruntime`` is installed (a
    core dependency) and an ONNX graph is at hand: a ``.onnx`` file, a shipped model's
    bundled export, or an exporter to write one (extra ``ferlab[onnx]``). ONNX Runtime
    classifies 48x48 crops about 4x faster than PyTorch at batch 1 and 1.45-1.64x at batch
    64 on a 2-core CPU (``bench/onnx_speed.py``). Otherwise ``torch``.
    """
    if check_choice(backend, BACKENDS, "backend") != "auto":
        return backend
    if torch.cuda.is_available() or importlib.util.find_spec("onnxruntime") is None:
        return "torch"
    exportable = importlib.util.find_spec("onnxscript") is not None
    return "onnx" if exportable or ready_onnx(model) is not None else "torch"


def ready_onnx(model: str | Path) -> Optional[Path]:
    """The ONNX file that runs ``model`` with no export: a ``.onnx`` path itself, a shipped
    model's bundled export (`ferlab.weights.shipped_onnx`); None for anything else."""
    if Path(model).suffix == ".onnx":
        return Path(model)
    path = resolve_model(model)
    return shipped_onnx(path.stem) if path.parent == WEIGHTS_DIR else None


def load_classifier(model: str | Path = DEFAULT_MODEL, backend: str = "auto", tta: str = "none") -> CropClassifier:
    """The classifier of a shipped model name, run folder or model file on ``backend`` (see `BACKENDS`)
    with test-time augmentation ``tta`` (see `CropClassifier`).

    With ``onnx``, a ``.onnx`` file is run as it is, a shipped model from its bundled
    export; anything else is exported once to the user cache dir (see
    `ferlab.app.onnx_backend.OnnxClassifier.from_model`).
    """
    check_choice(tta, TTA_MODES, "TTA mode")
    if resolve_backend(model, backend) == "torch":
        return ExpressionClassifier.load(model, tta=tta)
    from ferlab.app.onnx_backend import OnnxClassifier

    return OnnxClassifier.from_model(model, tta)
