"""What `ferlab eval` is asked to do: the checked request, its default output folder and the
command line it records. Torch-free, so a bad option is refused before the model stack loads."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from ferlab.constraints import Ge, OneOf, check_settings
from ferlab.errors import FerlabError
from ferlab.evaluate.robustness import OCCLUSION_MODES
from ferlab.faces.detectors import file_safe
from ferlab.preprocess import TTA_MODES
from ferlab.priors import DEFAULT_PRIOR, PRIORS
from ferlab.weights import WEIGHTS_DIR

EVAL_BACKENDS = ("torch", "onnx")
"""What `ferlab eval --backend` runs the model on (see `EvalRequest.backend`)."""


@dataclass(frozen=True)
class EvalRequest:
    """Everything `run_evaluation` needs; options are checked on creation (`ferlab.constraints`).

    Attributes:
        weights: a run folder (its ``best.pt``) or a model / training checkpoint file; with ``backend="onnx"``
            also a ``.onnx`` file.
        data: reader name (``fer2013``, ``ferplus``, ...; not ``auto``).
        data_root: the dataset file or folder.
        split: the split to score.
        data_options: reader options (e.g. ``{"mode": "majority"}`` for ferplus).
        tta, occlusion, batch_size, seed: see `ferlab.evaluate.evaluate_model`.
        prior: the operating point scored, ``data`` or ``balanced`` (see `ferlab.priors`).
        subset: a list file of the images to score (see `ferlab.evaluate.subset`).
        detector: score end to end with this face detector (``yunet``, ``blazeface``, ``opencv``, ``mtcnn``, ``dlib``
            or ``none``, options allowed: ``opencv:min_neighbors=8``), on the dataset's image
            files; None scores its crops.
        backend: what runs the model: ``torch`` (the trained network) or ``onnx`` (its ONNX graph on ONNX
            Runtime, as the application runs it: a shipped model's bundled graph, INT8 for ``ferlab-wild``; a
            ``.onnx`` file as it is; a run folder or model file exported once, `ferlab.app.load_classifier`).
            None: ``torch`` on crops; end to end, the application's choice (``auto``).
        out: output folder; None for `default_out_dir`.
        command: the command line, saved in metrics.json.
    """

    weights: Path
    data: str
    data_root: Path
    split: str = "test"
    data_options: dict[str, Any] = field(default_factory=dict)
    tta: Annotated[str, OneOf(TTA_MODES)] = "none"
    prior: Annotated[str, OneOf(PRIORS)] = DEFAULT_PRIOR
    subset: Path | None = None
    occlusion: Annotated[str, OneOf(OCCLUSION_MODES)] = "none"
    out: Path | None = None
    batch_size: Annotated[int, Ge(1)] = 256
    seed: Annotated[int, Ge(0)] = 0
    command: str | None = None
    detector: str | None = None
    backend: Annotated[str | None, OneOf(EVAL_BACKENDS)] = None

    def __post_init__(self) -> None:
        check_settings(self)
        if Path(self.weights).suffix == ".onnx" and self.backend != "onnx":
            raise FerlabError(f"{self.weights}: an ONNX file is scored on ONNX Runtime: add --backend onnx")
        if self.detector is not None and self.occlusion != "none":
            raise FerlabError("--occlude applies to dataset crops; it cannot be combined with --detector")


def default_out_dir(request: EvalRequest) -> Path:
    """``eval_<data>_<split>[_e2e-<detector>][_onnx][_tta-<mode>][_prior-<point>][_occlude-<mode>][_subset-<list>]`` in
    the run folder, beside the weights file, or (a shipped model) ``<that>_<model>`` in the
    current folder."""
    parts = ["eval", request.data, request.split]
    if request.detector is not None:
        parts.append("e2e-" + file_safe(request.detector))
    if request.backend == "onnx":
        parts.append("onnx")
    if request.tta != "none":
        parts.append(f"tta-{request.tta}")
    if request.prior != DEFAULT_PRIOR:
        parts.append(f"prior-{request.prior}")
    if request.occlusion != "none":
        parts.append(f"occlude-{request.occlusion}")
    if request.subset is not None:
        parts.append(f"subset-{request.subset.stem}")
    if request.weights.parent == WEIGHTS_DIR:  # never write into the installed package
        return Path("_".join([*parts, request.weights.stem]))
    base = request.weights if request.weights.is_dir() else request.weights.parent
    return base / "_".join(parts)


def command_line(ctx: typer.Context) -> str:
    """The command a Typer/click context ran, with every parameter (defaults included) spelled out."""
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if value is None:
            continue
        if param.param_type_name == "argument":
            words.append(str(value))
        elif not getattr(param, "is_flag", False):
            words += [param.opts[0], str(value)]
        elif value:
            words.append(param.opts[0])
    return shlex.join(words)
