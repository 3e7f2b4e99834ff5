"""The `ferlab eval` job: load a model and a split, evaluate, write the report."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import typer

import ferlab
from ferlab.checks import check_batch_size, check_choice
from ferlab.data import FaceDataset, SplitUnavailable, load_dataset
from ferlab.evaluate.evaluation import evaluate_model
from ferlab.evaluate.predict import default_device
from ferlab.evaluate.report import write_report
from ferlab.evaluate.robustness import OCCLUSION_MODES
from ferlab.evaluate.subset import select_subset
from ferlab.models.files import load_model
from ferlab.preprocess import TTA_MODES


@dataclass(frozen=True)
class EvalRequest:
    """Everything `run_evaluation` needs; options are checked on creation.

    Attributes:
        weights: a run folder (its ``best.pt``) or a model / training checkpoint file.
        data: reader name (``fer2013``, ``ferplus``, ...; not ``auto``).
        data_root: the dataset file or folder.
        split: the split to score.
        data_options: reader options (e.g. ``{"mode": "majority"}`` for ferplus).
        tta, occlusion, batch_size, seed: see `ferlab.evaluate.evaluate_model`.
        subset: a list file of the images to score (see `ferlab.evaluate.subset`).
        out: output folder; None for `default_out_dir`.
        command: the command line, saved in metrics.json.
    """

    weights: Path
    data: str
    data_root: Path
    split: str = "test"
    data_options: dict[str, Any] = field(default_factory=dict)
    tta: str = "none"
    subset: Optional[Path] = None
    occlusion: str = "none"
    out: Optional[Path] = None
    batch_size: int = 256
    seed: int = 0
    command: Optional[str] = None

    def __post_init__(self) -> None:
        check_choice(self.tta, TTA_MODES, "TTA mode")
        check_choice(self.occlusion, OCCLUSION_MODES, "occlusion mode")
        check_batch_size(self.batch_size)


def default_out_dir(request: EvalRequest) -> Path:
    """``eval_<data>_<split>[_tta-<mode>][_occlude-<mode>][_subset-<list name>]`` in the run folder,
    or beside the weights file."""
    parts = ["eval", request.data, request.split]
    if request.tta != "none":
        parts.append(f"tta-{request.tta}")
    if request.occlusion != "none":
        parts.append(f"occlude-{request.occlusion}")
    if request.subset is not None:
        parts.append(f"subset-{request.subset.stem}")
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


def _validation_split(request: EvalRequest) -> tuple[Optional[FaceDataset], str]:
    """The val split of the evaluated dataset to fit the temperature on, or None and why not."""
    try:
        return load_dataset(request.data, request.data_root, "val", **request.data_options), ""
    except SplitUnavailable as error:
        return None, f"the dataset has no val split ({error})"


def run_evaluation(request: EvalRequest) -> tuple[dict[str, Any], Path]:
    """Evaluate as `request` says, write the report; return the metrics.json record and the folder."""
    model, record = load_model(request.weights)
    dataset = load_dataset(request.data, request.data_root, request.split, **request.data_options)
    if request.subset is not None:
        dataset = select_subset(dataset, request.subset)
    calibration_set, skip_reason = _validation_split(request)
    device = default_device()
    result = evaluate_model(
        model, dataset, record["classes"], tta=request.tta, batch_size=request.batch_size, device=device,
        occlusion=request.occlusion, seed=request.seed, calibration_set=calibration_set,
        calibration_skip_reason=skip_reason,
    )
    out_dir = request.out or default_out_dir(request)
    run_info = {
        "command": request.command, "ferlab_version": ferlab.__version__,
        "weights": str(request.weights), "model": record["model"], "model_classes": list(record["classes"]),
        "data_root": str(request.data_root), "data_options": request.data_options,
        "subset": None if request.subset is None else str(request.subset),
        "occlusion_seed": request.seed, "batch_size": request.batch_size, "device": str(device),
    }
    return write_report(result, out_dir, run_info), out_dir
