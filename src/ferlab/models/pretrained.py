"""Load a local state dict into a ferlab model, adapting what a new task changed.

Nothing is downloaded: the file must be on disk. It is read with
``torch.load(..., weights_only=True)`` and holds a state dict, or is a ferlab model file
(a run's ``best.pt``, a shipped model) whose ``state_dict`` is used: training on from a
ferlab model, e.g. a new cosine cycle from a shipped model or FER2013 weights for FERPlus.
Every tensor of the model must have a same-named tensor in the file and the other way
round, except in the layers the model lists in ``head_layers`` (their size follows
``num_classes``); a tensor whose shape differs is

* adapted, in the layers listed in ``in_chans_layers``, when only the input-channel
  dimension differs between RGB and grayscale: RGB filters are summed to one channel (a
  gray image is R = G = B, so the response is unchanged), one channel is spread evenly
  over three;
* skipped (left at its fresh initialisation) in those layers and in ``head_layers``
  otherwise, e.g. a new classifier or a 3x3 stem replacing a 7x7 one;
* an error anywhere else: the file is for another architecture.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ferlab.errors import ModelError
from ferlab.models.base import FerModel


@dataclass
class LoadReport:
    """Which tensors of a weights file went where."""

    path: Path
    loaded: list[str] = field(default_factory=list)
    adapted: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"loaded {len(self.loaded)} tensors from {self.path}"
        if self.adapted:
            text += f"; adapted to the input channels: {', '.join(self.adapted)}"
        if self.skipped:
            text += f"; skipped (layer changed, left at initialisation): {', '.join(self.skipped)}"
        return text


def load_pretrained(model: FerModel, path: str | Path) -> LoadReport:
    """Load the state dict stored at `path` into `model` in place and report what was done.

    Raises:
        ModelError: the file is missing, unreadable, not a state dict, or made for
            another architecture.
    """
    path = Path(path)
    state = _read_state_dict(path)
    own = model.state_dict()
    report = LoadReport(path)

    def in_layers(key: str, layers: tuple[str, ...]) -> bool:
        return any(key == layer or key.startswith(layer + ".") for layer in layers)

    missing = [k for k in own if k not in state and not in_layers(k, model.head_layers)]
    unexpected = [k for k in state if k not in own and not in_layers(k, model.head_layers)]
    if missing or unexpected:
        raise ModelError(
            f"weights in {path} do not fit this {type(model).__name__}: "
            f"{len(missing)} of its tensors are not in the file{_examples(missing)} and the "
            f"file has {len(unexpected)} it does not know{_examples(unexpected)}; "
            "was the file saved from the same architecture?"
        )
    report.skipped += [k for k in state if k not in own]
    merged = dict(own)
    for key, mine in own.items():
        if key not in state:
            report.skipped.append(key)
            continue
        theirs = state[key]
        if theirs.shape == mine.shape:
            merged[key] = theirs
            report.loaded.append(key)
        elif in_layers(key, model.in_chans_layers) and _channels_only(theirs, mine):
            merged[key] = _adapt_in_chans(theirs, mine.shape[1])
            report.adapted.append(key)
        elif in_layers(key, model.in_chans_layers + model.head_layers):
            report.skipped.append(key)
        else:
            raise ModelError(
                f"weights in {path} do not fit this {type(model).__name__}: {key} has shape "
                f"{tuple(theirs.shape)} in the file but {tuple(mine.shape)} in the model; "
                "was the file saved from the same architecture and options?"
            )
    model.load_state_dict(merged)
    return report


def _read_state_dict(path: Path) -> Mapping[str, torch.Tensor]:
    if not path.is_file():
        raise ModelError(f"weights file not found: {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        lines = str(error).strip().splitlines()
        reason = lines[0] if lines else type(error).__name__
        raise ModelError(f"cannot read weights from {path}: {reason}") from None
    if isinstance(state, Mapping) and isinstance(state.get("state_dict"), Mapping):
        state = state["state_dict"]  # a ferlab model file
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ModelError(
            f"{path} holds a {type(state).__name__}, not a state dict of tensors; "
            "save one with torch.save(model.state_dict(), PATH)"
        )
    return state


def _channels_only(theirs: torch.Tensor, mine: torch.Tensor) -> bool:
    """True for conv weights differing only in input channels, RGB against grayscale."""
    return (
        theirs.dim() == mine.dim() == 4
        and theirs.shape[0] == mine.shape[0]
        and theirs.shape[2:] == mine.shape[2:]
        and {theirs.shape[1], mine.shape[1]} == {1, 3}
    )


def _adapt_in_chans(weight: torch.Tensor, in_chans: int) -> torch.Tensor:
    if in_chans == 1:
        return weight.sum(dim=1, keepdim=True)
    return weight.repeat(1, in_chans, 1, 1) / in_chans


def _examples(keys: list[str]) -> str:
    return f" (e.g. {', '.join(keys[:3])})" if keys else ""
