"""Writing checkpoints and model files, atomically (their reading and layout: `ferlab.models.files`)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ferlab.models.base import FerModel
from ferlab.models.files import MODEL_FORMAT
from ferlab.preprocess import Preprocessing

_UMASK = os.umask(0o022)
os.umask(_UMASK)  # read once at import: os.umask can only be read by setting it


def save_atomically(obj: dict[str, Any], path: Path) -> None:
    """`torch.save` to a temp file in the same folder, then rename over ``path``.

    The file gets the permissions ``open()`` would give it (the temp file's private 0600
    is widened by the umask), so saved models are as readable as any other file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with handle:
            torch.save(obj, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(handle.name, 0o666 & ~_UMASK)
        os.replace(handle.name, path)
    finally:
        Path(handle.name).unlink(missing_ok=True)


def model_record(
    model: FerModel,
    name: str,
    options: dict[str, Any],
    classes: tuple[str, ...],
    metrics: dict[str, Any] | None = None,
    class_prior: Sequence[float] | None = None,
    logit_adjustment: float = 0.0,
    label_smoothing: float = 0.0,
    class_weights: Sequence[float] | None = None,
) -> dict[str, Any]:
    """The model-file dict for ``model`` (weights copied to CPU, unwrapped from DDP/compile).

    A ``pretrained`` path among the options (or the backbone's) is left out: the weights it
    started from are in the file, and the file must load where that path does not exist.
    The preprocessing the model was trained with (`ferlab.preprocess.Preprocessing`) is stored
    with it, and so are, when ``class_prior`` is given, the training class shares
    (`ferlab.data.FaceDataset.class_prior`), the ``tau`` of a logit-adjusted loss, the label
    smoothing and the label loss's class weights (None: unweighted) trained with, from which the
    application makes either operating point (`ferlab.priors`).
    """
    prior = {}
    if class_prior is not None:
        prior = {
            "class_prior": [float(p) for p in class_prior],
            "logit_adjustment": float(logit_adjustment),
            "label_smoothing": float(label_smoothing),
            "class_weights": None if class_weights is None else [float(w) for w in class_weights],
        }
    return {
        "format": MODEL_FORMAT,
        "model": name,
        "model_options": _without_pretrained(options),
        "num_classes": model.num_classes,
        "in_chans": model.in_chans,
        "input_size": list(model.input_size),
        "classes": list(classes),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": dict(metrics or {}),
        "preprocessing": Preprocessing(tuple(model.input_size)).to_dict(),
        **prior,
    }


def _without_pretrained(options: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in options.items() if key != "pretrained"}
    if isinstance(kept.get("backbone_kwargs"), dict):
        kept["backbone_kwargs"] = _without_pretrained(kept["backbone_kwargs"])
    return kept
