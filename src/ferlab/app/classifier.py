"""Expression classifiers: a trained model turned into probabilities for face crops.

`ferlab.app.crop_classifier.CropClassifier` is the interface the face pipeline uses; `load_classifier` picks a backend
by name. ``onnx`` (`ferlab.app.onnx_runtime.OnnxClassifier`) runs on ONNX Runtime and
needs no torch; ``torch`` (`ferlab.app.torch_backend.ExpressionClassifier`) runs the PyTorch
model and needs ``pip install "ferlab[train]"``. This module imports neither torch nor
ONNX Runtime: the backend's module is imported when a classifier is loaded.
"""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

from ferlab.app.crop_classifier import CropClassifier
from ferlab.checks import check_choice
from ferlab.errors import FerlabError
from ferlab.preprocess import TTA_MODES
from ferlab.priors import DEFAULT_PRIOR, PRIORS
from ferlab.weights import DEFAULT_MODEL, WEIGHTS_DIR, resolve_model, shipped_onnx

BACKENDS: tuple[str, ...] = ("auto", "torch", "onnx")
"""Inference backends: PyTorch, ONNX Runtime on the CPU, or ``auto`` (see `resolve_backend`)."""
TORCH_EXTRA = 'pip install "ferlab[train]"'


def torch_installed() -> bool:
    """Whether PyTorch can be imported here (checked without importing it)."""
    return importlib.util.find_spec("torch") is not None


def resolve_backend(model: str | Path, backend: str = "auto") -> str:
    """``torch`` or ``onnx`` for ``backend``; ``auto`` picks ONNX Runtime whenever it can run the model.

    ``auto`` means ``onnx`` for a ``.onnx`` file and a shipped model (whose export is bundled),
    and for other models (run folders, model files) when the exporter is installed (extra
    ``ferlab[onnx]``) and no CUDA device is present; ``torch`` otherwise. ONNX Runtime classifies
    48x48 crops about 3x faster than PyTorch at batch 1 and 1.8x at batch 64 on a 2-core CPU
    (``bench/onnx_speed.py``), and starts without importing torch.
    """
    if check_choice(backend, BACKENDS, "backend") != "auto":
        return backend
    if ready_onnx(model) is not None:
        return "onnx"
    if not torch_installed():
        return "onnx"  # load_classifier then says which extra a model file needs
    exportable = importlib.util.find_spec("onnxscript") is not None
    import torch

    return "onnx" if exportable and not torch.cuda.is_available() else "torch"


def ready_onnx(model: str | Path) -> Path | None:
    """The ONNX file that runs ``model`` with no export: a ``.onnx`` path itself, a shipped
    model's bundled export (`ferlab.weights.shipped_onnx`); None for anything else."""
    if Path(model).suffix == ".onnx":
        return Path(model)
    path = resolve_model(model)
    return shipped_onnx(path.stem) if path.parent == WEIGHTS_DIR else None


def load_classifier(
    model: str | Path = DEFAULT_MODEL, backend: str = "auto", tta: str = "none", prior: str = DEFAULT_PRIOR
) -> CropClassifier:
    """The classifier of a shipped model name, run folder, model file or ``.onnx`` file on ``backend``
    (see `BACKENDS`) with test-time augmentation ``tta`` and operating point ``prior`` (``data``,
    ``balanced`` or ``tuned``, see `ferlab.priors`).

    With ``onnx``, a ``.onnx`` file is run as it is, a shipped model from its bundled
    export; a run folder or model file is exported once to the user cache dir
    (`ferlab.models.onnx_export.cached_export`, which needs the training extra).
    """
    check_choice(tta, TTA_MODES, "TTA mode")
    check_choice(prior, PRIORS, "prior")
    chosen = resolve_backend(model, backend)
    ready = ready_onnx(model)
    if chosen == "onnx" and ready is not None:
        from ferlab.app.onnx_runtime import OnnxClassifier

        return OnnxClassifier.load(ready, None if ready == Path(model) else str(model), tta, prior)
    if not torch_installed():
        raise FerlabError(
            f"{model}: a model file runs with PyTorch (or is exported to ONNX with it): "
            f"{TORCH_EXTRA}, or use a shipped model or a .onnx file"
        )
    if chosen == "torch":
        from ferlab.app.torch_backend import ExpressionClassifier

        return ExpressionClassifier.load(model, tta=tta, prior=prior)
    from ferlab.app.onnx_runtime import OnnxClassifier
    from ferlab.data.cache import cache_enabled
    from ferlab.models.onnx_export import cached_export, export_onnx

    if cache_enabled():
        return OnnxClassifier.load(cached_export(model), str(model), tta, prior)
    with tempfile.TemporaryDirectory() as folder:  # the session keeps the graph in memory
        return OnnxClassifier.load(export_onnx(model, Path(folder) / "model.onnx"), str(model), tta, prior)
