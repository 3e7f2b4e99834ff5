"""Weight averaging ("model soup", Wortsman et al. 2022): one model whose weights are the mean of several.

Runs fine-tuned from the same weights (different seeds, rates or data mixes) usually lie in one basin
of the loss, where the mean of their weights is a model about as good as their ensemble at the cost
of one of them. Only models of one architecture, widths, classes, input and training output semantics
(label smoothing, logit adjustment) can be averaged; anything else is refused in one line.

The soup's operating points (`ferlab.priors`): an ingredient's data point is ``raw + tau log pi - log w``
and its balanced point that minus ``log pi``; averaging the weights averages (about) the raw logits, so
the soup stores the geometric means of the ingredients' class priors (renormalised) and class weights.
Temperatures are not averaged: the soup is uncalibrated until fitted (``tools/ship_model.py``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ferlab.engine.checkpoint import save_atomically
from ferlab.errors import FerlabError
from ferlab.models.files import BEST_NAME, MODEL_FORMAT, TRAIN_FORMAT, model_file, read_checkpoint
from ferlab.weights import resolve_model

SAME_FIELDS = ("model", "model_options", "num_classes", "in_chans", "input_size", "classes", "preprocessing")
"""What every ingredient must share: the network and what it reads and outputs."""
SAME_TRAINING = ("logit_adjustment", "label_smoothing")
"""Training settings that change what the logits mean; ingredients must share them too."""
SOUP_NAME = "soup.json"
"""The file a soup folder names its ingredients in."""


def average_records(records: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, Any]:
    """The model record whose weights are the uniform mean of ``records``' (named ``names`` in errors).

    Floating-point tensors are averaged; integer buffers (BatchNorm's batch counters) are taken
    from the first record. Raises `FerlabError` for fewer than two records or ones that differ in
    `SAME_FIELDS`, `SAME_TRAINING`, weight names or shapes.
    """
    if len(records) < 2:
        raise FerlabError("a soup needs at least two models")
    first = records[0]
    for name, record in zip(names[1:], records[1:]):
        for key in SAME_FIELDS + SAME_TRAINING:
            default = 0.0 if key in SAME_TRAINING else None  # files without a stored prior lack these
            if record.get(key, default) != first.get(key, default):
                raise FerlabError(f"{name}: its {key} differs from {names[0]}'s; only like models can be averaged")
        if {k: tuple(v.shape) for k, v in record["state_dict"].items()} != {
            k: tuple(v.shape) for k, v in first["state_dict"].items()
        }:
            raise FerlabError(f"{name}: its weights' names or shapes differ from {names[0]}'s")
    state = {}
    for key, tensor in first["state_dict"].items():
        if tensor.is_floating_point():
            state[key] = torch.stack([record["state_dict"][key].float() for record in records]).mean(0).to(tensor.dtype)
        else:
            state[key] = tensor.clone()
    soup = {key: first[key] for key in SAME_FIELDS if key in first}
    soup.update({key: first.get(key, 0.0) for key in SAME_TRAINING})
    soup.update(
        format=MODEL_FORMAT,
        state_dict=state,
        metrics={"soup_of": list(names)},
        class_prior=_geometric_mean([r.get("class_prior") for r in records], normalise=True),
        class_weights=_geometric_mean([r.get("class_weights") for r in records], normalise=False),
    )
    if soup["class_prior"] is None:
        del soup["class_prior"]
    return soup


def make_soup(ingredients: Sequence[str | Path], out: Path) -> Path:
    """Average the model files of ``ingredients`` (run folders, model files or shipped model names)
    into ``out/best.pt``, with ``out/soup.json`` naming them as given; returns the model file written."""
    records = []
    for ingredient in ingredients:
        data = read_checkpoint(model_file(resolve_model(ingredient)))
        records.append(data["model_state"] if data["format"] == TRAIN_FORMAT else data)
    names = [str(ingredient) for ingredient in ingredients]
    soup = average_records(records, names)
    path = Path(out) / BEST_NAME
    save_atomically(soup, path)
    (Path(out) / SOUP_NAME).write_text(json.dumps({"ingredients": names, "weights": "uniform"}, indent=2) + "\n")
    return path


def _geometric_mean(vectors: Sequence[Sequence[float] | None], normalise: bool) -> list[float] | None:
    """The per-class geometric mean of ``vectors``; None if all are None, ones for a None among others
    (an unweighted model's class weights); a prior is renormalised to sum to one."""
    if all(vector is None for vector in vectors):
        return None
    if any(vector is None for vector in vectors) and normalise:
        raise FerlabError("some of the models store a training class prior and some do not; cannot average them")
    size = len(next(vector for vector in vectors if vector is not None))
    rows = [vector if vector is not None else [1.0] * size for vector in vectors]
    # A prior of 0 is clipped; a class weight of 0 (class absent in training) means no lean, as in `ferlab.priors`.
    logs = [[math.log(max(v, 1e-12) if normalise else v if v > 0 else 1.0) for v in row] for row in rows]
    means = [math.exp(sum(row[c] for row in logs) / len(logs)) for c in range(size)]
    total = sum(means) if normalise else 1.0
    return [value / total for value in means]
