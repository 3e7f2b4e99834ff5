"""Checkpoints and model files: written atomically, read with ``weights_only=True``.

Two kinds of file, both plain dicts of tensors and primitives:

* a **model file** (``best.pt`` in a run, or any exported weights) holds what is needed to
  rebuild and use a model: ``format``, ``model`` (registry name), ``model_options``,
  ``num_classes``, ``in_chans``, ``input_size``, ``classes``, ``state_dict``, ``metrics``;
* a **training checkpoint** (``last.pt``) adds the optimizer, scheduler, RNG states, the
  finished ``epoch``, the run's ``config`` and its metric ``history``, so `--resume`
  continues exactly.
"""

from __future__ import annotations

import os
import pickle
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from ferlab.errors import ModelError
from ferlab.models import create_model
from ferlab.models.base import FerModel

MODEL_FORMAT = "ferlab-model-v1"
TRAIN_FORMAT = "ferlab-train-v1"
BEST_NAME, LAST_NAME = "best.pt", "last.pt"
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


def read_checkpoint(path: Path, expected_format: str | None = None) -> dict[str, Any]:
    """Load a ferlab file safely (no unpickling of arbitrary objects); clear errors otherwise."""
    if not path.is_file():
        raise ModelError(f"{path}: no such checkpoint file")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ModelError(f"{path}: not a readable ferlab checkpoint (corrupt or truncated?): {reason}") from None
    formats = (MODEL_FORMAT, TRAIN_FORMAT) if expected_format is None else (expected_format,)
    if not isinstance(data, dict) or data.get("format") not in formats:
        raise ModelError(f"{path}: not a ferlab {' or '.join(formats)} file")
    return data


def model_record(model: FerModel, name: str, options: dict[str, Any], classes: tuple[str, ...],
                 metrics: dict[str, Any] | None = None) -> dict[str, Any]:
    """The model-file dict for ``model`` (weights copied to CPU, unwrapped from DDP/compile).

    A ``pretrained`` path among the options (or the backbone's) is left out: the weights it
    started from are in the file, and the file must load where that path does not exist.
    """
    return {
        "format": MODEL_FORMAT, "model": name, "model_options": _without_pretrained(options),
        "num_classes": model.num_classes, "in_chans": model.in_chans, "input_size": list(model.input_size),
        "classes": list(classes), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": dict(metrics or {}),
    }


def _without_pretrained(options: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in options.items() if key != "pretrained"}
    if isinstance(kept.get("backbone_kwargs"), dict):
        kept["backbone_kwargs"] = _without_pretrained(kept["backbone_kwargs"])
    return kept


def build_from_record(record: dict[str, Any], source: Path | str = "checkpoint") -> FerModel:
    """Rebuild the model a model record describes and load its weights."""
    model = create_model(record["model"], num_classes=record["num_classes"], in_chans=record["in_chans"],
                         **record.get("model_options", {}))
    try:
        model.load_state_dict(record["state_dict"])
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ModelError(f"{source}: weights do not fit model {record['model']!r} ({first})") from None
    return model


def model_file(run_or_file: str | Path) -> Path:
    """The file a run folder (its ``best.pt``) or a model/training file path stands for."""
    path = Path(run_or_file)
    return path / BEST_NAME if path.is_dir() else path


def load_model(run_or_file: str | Path) -> tuple[FerModel, dict[str, Any]]:
    """Load a trained model from a run folder (its ``best.pt``) or a model/training file.

    Returns the model in eval mode and its record (classes, input size, metrics...).
    """
    path = model_file(run_or_file)
    data = read_checkpoint(path)
    record = data["model_state"] if data["format"] == TRAIN_FORMAT else data
    model = build_from_record(record, path)
    return model.eval(), record
