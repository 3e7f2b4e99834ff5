"""Reading ferlab model files: found from a run folder or path, loaded with ``weights_only=True``.

Two kinds of file, both plain dicts of tensors and primitives (written by
`ferlab.engine.checkpoint`):

* a **model file** (``best.pt`` in a run, a shipped model, any exported weights) holds what
  is needed to rebuild and use a model: ``format``, ``model`` (registry name),
  ``model_options``, ``num_classes``, ``in_chans``, ``input_size``, ``classes``,
  ``state_dict``, ``metrics`` and, since 2026-12, ``preprocessing`` (see
  `ferlab.preprocess.Preprocessing`);
* a **training checkpoint** (``last.pt``) adds the optimizer, scheduler, RNG states, the
  finished ``epoch``, the run's ``config`` and its metric ``history``.

A file that is neither (a text file, random bytes, a pickle of other objects, a dict without
the fields) is refused with one `ModelError` line, ``not a ferlab model file: PATH (...)``;
untrusted files are never unpickled, and no advice to turn ``weights_only`` off is given.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from ferlab.errors import ModelError
from ferlab.models.base import FerModel
from ferlab.models.registry import create_model
from ferlab.preprocess import Preprocessing

MODEL_FORMAT = "ferlab-model-v1"
TRAIN_FORMAT = "ferlab-train-v1"
BEST_NAME, LAST_NAME = "best.pt", "last.pt"
RECORD_KEYS = ("model", "num_classes", "in_chans", "input_size", "classes", "state_dict")
"""Fields every model record has."""


def not_a_model_file(path: Path | str, reason: str) -> ModelError:
    """The one-line error for a file that is not a ferlab model file."""
    return ModelError(f"not a ferlab model file: {path} ({reason})")


def read_checkpoint(path: Path, expected_format: str | None = None) -> dict[str, Any]:
    """Load a ferlab file safely (no unpickling of arbitrary objects); one-line errors otherwise."""
    if not path.is_file():
        raise ModelError(f"{path}: no such model file")
    try:
        with warnings.catch_warnings():  # torch warns about the pickle protocols of files it then refuses
            warnings.simplefilter("ignore")
            data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # torch's weights-only unpickler raises many types (UnpicklingError, KeyError, ...)
        raise not_a_model_file(path, "corrupt, truncated, or not a PyTorch file of tensors and plain data") from None
    formats = (MODEL_FORMAT, TRAIN_FORMAT) if expected_format is None else (expected_format,)
    if not isinstance(data, dict) or data.get("format") not in formats:
        raise not_a_model_file(path, f"no {' or '.join(formats)} format tag")
    record = data.get("model_state") if data["format"] == TRAIN_FORMAT else data
    missing = [key for key in RECORD_KEYS if not isinstance(record, dict) or key not in record]
    if missing:
        raise not_a_model_file(path, f"missing {', '.join(missing)}")
    return data


def build_from_record(record: dict[str, Any], source: Path | str = "checkpoint") -> FerModel:
    """Rebuild the model a model record describes and load its weights."""
    model = create_model(
        record["model"],
        num_classes=record["num_classes"],
        in_chans=record["in_chans"],
        **record.get("model_options", {}),
    )
    model.input_size = tuple(record["input_size"])  # a run's `input_size` option may differ from the default
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
    model.preprocessing = Preprocessing.from_dict(record.get("preprocessing"), tuple(model.input_size))
    return model.eval(), record
