"""`ferlab explain`: PNG grids of what a trained network looks at.

For a batch of faces (photos through the face pipeline, or the first images of a dataset
split) it writes into one folder:

* ``learning_curves.png``: loss and accuracy per epoch (run folders with a ``metrics.csv``);
* ``activations.png``: intermediate activation maps of the first face, one row per layer;
* ``gradcam.png``: Grad-CAM of the predicted class, one row per face;
* the family figures, for the models whose `forward_explain` returns what they show:
  ``stn_warp.png`` (``deep_emotion``: the spatial transformer's warped input),
  ``attention.png`` (``attention_net``: the attention map and the attended image) and
  ``ran_regions.png`` (``ran``: the region crops with their attention weights);
* ``explain.json``: every face's prediction and the files written.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ferlab.app.analyze import load_rgb
from ferlab.data import load_dataset
from ferlab.data.labels import concept
from ferlab.engine.plots import plot_learning_curves
from ferlab.errors import FerlabError
from ferlab.evaluate.inference import default_device, model_inputs
from ferlab.faces import DEFAULT_DETECTOR, Face, align_face, get_detector
from ferlab.interpret.grid import Panel, save_grid
from ferlab.interpret.internals import activation_maps, grad_cam
from ferlab.models.base import FerModel
from ferlab.preprocess import CROP_MARGIN, MEAN, STD


@dataclass
class ExplainInputs:
    """The faces to explain, as uint8 arrays, with what is known about them."""

    images: np.ndarray
    """uint8 ``(N, H, W)`` or ``(N, H, W, 3)`` faces."""
    names: list[str]
    """One short name per face (file name, or split and row)."""
    truths: list[str | None] | None = None
    """True class names where known."""
    notes: list[str] = field(default_factory=list)
    """What the user should know about how the faces were found."""


def photo_inputs(paths: Sequence[Path], input_size: Sequence[int], detector: str = DEFAULT_DETECTOR) -> ExplainInputs:
    """The aligned face crops (the surest face of each photo) at the model's size.

    A photo where ``detector`` finds no face is used whole, fitted into the model's size,
    and a note says so.
    """
    channels, height, width = input_size
    finder = get_detector(detector)
    crops, notes = [], []
    for path in paths:
        rgb = load_rgb(path)
        faces = finder.detect(rgb)
        if faces:
            face, margin = faces[0], CROP_MARGIN
        else:
            face, margin = Face((0.0, 0.0, float(rgb.shape[1]), float(rgb.shape[0])), 0.0), 0.0
            notes.append(f"{path}: no face found, the whole image is used")
        crops.append(align_face(rgb, face, (height, width), grayscale=channels == 1, margin=margin))
    return ExplainInputs(np.stack(crops), [Path(path).name for path in paths], notes=notes)


def split_inputs(
    data: str, root: Path, split: str, n: int, seed: int | None = None, options: dict[str, Any] | None = None
) -> ExplainInputs:
    """``n`` faces of a dataset split with their labels: the first ones, or ``seed``-ed random ones."""
    if n < 1:
        raise FerlabError(f"--n must be at least 1, got {n}")
    dataset = load_dataset(data, root, split, **(options or {}))
    count = min(n, len(dataset))
    if count == 0:
        raise FerlabError(f"{root}: split {split!r} holds no images")
    if seed is None:
        indices = np.arange(count)
    else:
        indices = np.sort(np.random.default_rng(seed).choice(len(dataset), count, replace=False))
    truths = [dataset.classes[label] if label >= 0 else None for label in dataset.labels[indices]]
    names = [f"{dataset.split} #{dataset.ids[i]}" for i in indices]
    return ExplainInputs(dataset.images[indices], names, truths)


def run_history(run: str | Path) -> list[dict[str, float]] | None:
    """The per-epoch metrics of a run folder (its ``metrics.csv``), None for anything else."""
    path = Path(run) / "metrics.csv"
    if not path.is_file():
        return None
    with path.open(newline="") as handle:
        return [{key: float(value) for key, value in row.items()} for row in csv.DictReader(handle)]


def default_out(run: str | Path) -> Path:
    """``<run>/explain`` for a run folder, ``explain`` otherwise."""
    path = Path(run)
    return path / "explain" if path.is_dir() else Path("explain")


def _channels_last(x: np.ndarray) -> np.ndarray:
    """``(B, C, H, W)`` → ``(B, H, W)`` for one channel, ``(B, H, W, 3)`` for three."""
    return x[:, 0] if x.shape[1] == 1 else x.transpose(0, 2, 3, 1)


def _pictures(x: torch.Tensor) -> np.ndarray:
    """Normalised model inputs back to displayable ``(B, H, W[, 3])`` in [0, 1]."""
    return _channels_last((x.detach().float().cpu() * STD + MEAN).clamp(0, 1).numpy())


def _stretched(x: torch.Tensor) -> np.ndarray:
    """Any ``(B, ...)`` maps scaled to [0, 1] per item, as numpy."""
    flat = x.detach().float().cpu().flatten(1)
    low, high = flat.min(dim=1, keepdim=True).values, flat.max(dim=1, keepdim=True).values
    return ((flat - low) / (high - low).clamp_min(1e-12)).view_as(x).numpy()


def _activation_rows(model: FerModel, x: torch.Tensor, caption: str) -> list[list[Panel]]:
    """The first face, then one row per recorded layer: its first channels, each scaled to [0, 1]."""
    rows = [[Panel(_pictures(x[:1])[0], caption)]]
    for layer in activation_maps(model, x[:1]):
        height, width = layer.maps.shape[-2:]
        label = f"{layer.name}\n{layer.channels} ch, {height}x{width}"
        rows.append(
            [
                Panel(channel, f"{label}: ch 0" if i == 0 else f"ch {i}", cmap="viridis")
                for i, channel in enumerate(_stretched(layer.maps[0]))
            ]
        )
    return rows


def _gradcam_rows(model: FerModel, x: torch.Tensor, captions: list[str], layer: str | None) -> list[list[Panel]]:
    """One row per face: the face, and the Grad-CAM of its predicted class (at ``layer``) over it."""
    cam, _ = grad_cam(model, x, layer=layer)
    where = f"\nat {layer}" if layer else ""
    titles = [
        f"Grad-CAM of the prediction{where}" if heat.max() > 0 else f"Grad-CAM{where}: empty\n(no positive evidence)"
        for heat in cam
    ]
    return [
        [Panel(picture, caption), Panel(picture, title, heat=heat)]
        for picture, caption, title, heat in zip(_pictures(x), captions, titles, cam.cpu().numpy())
    ]


def _family_figures(
    model: FerModel, x: torch.Tensor, outputs: dict[str, torch.Tensor], captions: list[str]
) -> dict[str, list[list[Panel]]]:
    """The figures of the model-specific `forward_explain` outputs this model has, one row per face."""
    pictures = _pictures(x)
    figures = {}
    if "warped" in outputs:
        figures["stn_warp.png"] = [
            [Panel(p, c), Panel(w, "warped by the spatial transformer")]
            for p, c, w in zip(pictures, captions, _pictures(outputs["warped"]))
        ]
    if "attention" in outputs:
        attention, attended = _stretched(outputs["attention"][:, 0]), _channels_last(_stretched(outputs["attended"]))
        figures["attention.png"] = [
            [Panel(p, c), Panel(p, "attention map", heat=a), Panel(image, "attended image")]
            for p, c, a, image in zip(pictures, captions, attention, attended)
        ]
    if "region_weights" in outputs:
        views = _pictures(model.crops(x).flatten(0, 1)).reshape(len(x), -1, *pictures.shape[1:])
        weights = zip(captions, outputs["region_weights"].tolist(), outputs["relation_weights"].tolist())
        figures["ran_regions.png"] = [
            [Panel(view, title) for view, title in zip(row, _region_titles(*w))] for row, w in zip(views, weights)
        ]
    return figures


def _region_titles(caption: str, mu: list[float], nu: list[float]) -> list[str]:
    """Titles of a RAN row: the face then each region crop, with its weight mu and relation weight nu."""
    names = [f"{caption}\nface", *(f"region {i}" for i in range(1, len(mu)))]
    return [f"{name}: \u03bc={m:.2f} \u03bd={v:.2f}" for name, m, v in zip(names, mu, nu)]


FIGURE_TITLES = {
    "activations.png": "activation maps of the first face (first channels of convolutions, input to output)",
    "gradcam.png": "Grad-CAM of the predicted class",
    "stn_warp.png": "input warped by the spatial transformer",
    "attention.png": "attention map and attended image",
    "ran_regions.png": "region crops, \u03bc: region weight, \u03bd: relation weight",
}


@dataclass
class ExplainReport:
    """What `explain` wrote: the figures (in the order written) and each face's prediction."""

    out: Path
    files: list[Path]
    predictions: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (written as ``explain.json``)."""
        return {"out": str(self.out), "files": [path.name for path in self.files], "predictions": self.predictions}


def _predictions(logits: torch.Tensor, record: dict[str, Any], inputs: ExplainInputs) -> list[dict[str, Any]]:
    """Name, predicted class, its probability (softmax of logits / the record's temperature) and truth per face."""
    probabilities = torch.softmax(logits.float().cpu() / record.get("temperature", 1.0), dim=1)
    classes = [concept(name) or name for name in record["classes"]]
    truths = inputs.truths or [None] * len(logits)
    return [
        {
            "name": name,
            "predicted": classes[int(row.argmax())],
            "probability": round(float(row.max()), 4),
            "true": truth,
        }
        for name, row, truth in zip(inputs.names, probabilities, truths)
    ]


def _caption(prediction: dict[str, Any]) -> str:
    """A face's title: its name, then the prediction and the true class when known."""
    truth = f" (true: {prediction['true']})" if prediction["true"] else ""
    return f"{prediction['name']}\n{prediction['predicted']} {prediction['probability']:.0%}{truth}"


def explain(
    model: FerModel,
    record: dict[str, Any],
    inputs: ExplainInputs,
    out: Path,
    history: list[dict[str, float]] | None = None,
    cam_layer: str | None = None,
) -> ExplainReport:
    """Write the figures of ``model`` (loaded with its ``record``) on ``inputs`` into ``out``.

    ``history`` (see `run_history`) adds the learning curves; ``cam_layer`` names the module
    whose output Grad-CAM reads (default: `forward_features`; see `grad_cam`). Runs on CUDA
    when available.
    """
    device = default_device()
    model = model.eval().to(device)
    x = model_inputs(inputs.images, model).to(device)
    with torch.no_grad():
        outputs = model.forward_explain(x)
    predictions = _predictions(outputs["logits"], record, inputs)
    captions = [_caption(prediction) for prediction in predictions]
    figures = {
        "activations.png": _activation_rows(model, x, captions[0]),
        "gradcam.png": _gradcam_rows(model, x, captions, cam_layer),
        **_family_figures(model, x, outputs, captions),
    }
    out.mkdir(parents=True, exist_ok=True)
    files = []
    if history:
        plot_learning_curves(history, out / "learning_curves.png", title=record["model"])
        files.append(out / "learning_curves.png")
    for name, rows in figures.items():
        save_grid(rows, out / name, f"{record['model']}: {FIGURE_TITLES[name]}")
        files.append(out / name)
    report = ExplainReport(out, files, predictions)
    (out / "explain.json").write_text(json.dumps(report.to_dict(), indent=1))
    return report
