"""The research commands: train, eval, eval-detector, models, compare, sweep, export, soup, explain.

They need the training extra (torch and friends), which `require_training_extra` asks for in one line, and
import the research layer inside each command, so listing them (``ferlab --help``) stays light. The training
settings' flags are generated from `TrainConfig` (`with_training_options`).
"""

from __future__ import annotations

import importlib.util
import tempfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.progress import MofNCompleteColumn, Progress
from rich.text import Text

from ferlab.cli.options import (
    PRIOR_HELP,
    DataOption,
    DetectorOption,
    HoldoutGroupOption,
    HoldoutOption,
    ModeOption,
    reader_options,
    with_settings_options,
)
from ferlab.cli.tables import console, err_console, print_measures, print_model_profiles, print_skipped
from ferlab.engine.config import TrainConfig, field_help
from ferlab.errors import FerlabError
from ferlab.evaluate.request import EvalRequest
from ferlab.faces import DEFAULT_DETECTOR

TRAIN_PACKAGES = ("torch", "torchvision", "kornia", "torchmetrics")
"""What the research commands (train, eval, export, compare, sweep, explain) import."""


def require_training_extra(command: str) -> None:
    """Stop a research command in one line when the training stack is not installed."""
    missing = [name for name in TRAIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise FerlabError(
            f'ferlab {command} needs the training extra ({", ".join(missing)} missing): pip install "ferlab[train]"'
        )


def with_training_options(exclude: Collection[str] = ()) -> Callable:
    """A flag for every plain `TrainConfig` field (help from its docstring, limits from its constraint); the
    command receives those given as ``settings``, which override its ``--config`` file."""
    return with_settings_options(TrainConfig, field_help(), exclude=exclude, given_only=True)


@with_training_options()
def train_command(
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML file of training options."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    settings: dict[str, Any] | None = None,
) -> None:
    """Train a model; checkpoints every epoch, `--resume` continues after a crash.

    Every option also goes in the --config YAML; a flag overrides the file.
    """
    require_training_extra("train")
    from ferlab.engine import load_config

    train_config = load_config(config, **settings)  # a bad option fails here, before torch loads (seconds)
    from ferlab.engine import train

    train(train_config, resume=resume, console=console)


EVAL_HELP = {
    "tta": "Test-time augmentation: none, flip, tencrop (logits averaged).",
    "prior": PRIOR_HELP,
    "batch_size": "Images per forward pass.",
    "seed": "Seed of the random occlusion (--occlude random).",
    "backend": "What runs the model: torch (the trained network; the default on crops) or onnx (its ONNX graph on "
    "ONNX Runtime, as the application runs it: a shipped model's bundled graph, INT8 for ferlab-wild; a .onnx file "
    "as it is). End to end the default is the application's choice.",
}
"""The ``--help`` of each `EvalRequest` field that is a generated flag; names, types, defaults and limits come
from the request itself."""


@with_settings_options(EvalRequest, EVAL_HELP, exclude=("occlusion", "command"))
def eval_command(
    ctx: typer.Context,
    run_or_weights: str = typer.Argument(
        ..., metavar="MODEL", help="Shipped model name, run folder, model file, or .onnx file (with --backend onnx)."
    ),
    data: str = DataOption,
    data_root: Path = typer.Option(..., "--data-root", help="The dataset's file or folder."),
    split: str = typer.Option("test", "--split", help="Split to score: train, val, test or all."),
    subset: Path | None = typer.Option(
        None, "--subset", help="File naming the images to score: FERPlus names or dataset indices, one a line."
    ),
    occlude: str = typer.Option("none", "--occlude", help="Gray out a region first: none, random, eyes, mouth."),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default: eval_<data>_<split>[_tta-..][_occlude-..] in the run)."
    ),
    mode: str = ModeOption,
    holdout: float = HoldoutOption,
    holdout_group: str | None = HoldoutGroupOption,
    detector: str | None = typer.Option(
        None,
        "--detector",
        help="Score end to end: each labelled image file through a detector (yunet, blazeface, opencv, dlib, mtcnn, "
        f"or none; the application's is {DEFAULT_DETECTOR}; options after a colon, as in predict), crop rule, crop "
        "and model; the largest face counts, a missed face is wrong. Default: score the dataset's crops.",
    ),
    settings: dict[str, Any] | None = None,
) -> None:
    """Score a model on a split (accuracy, F1, confusion, calibration), or end to end on photos.

    On a split: accuracy, F1, confusion matrix, calibration (ECE, temperature). With --detector,
    end to end on the photos: detection rate and accuracy with 95% CIs.
    """
    require_training_extra("eval")
    from ferlab.data import detect_dataset
    from ferlab.evaluate.request import command_line
    from ferlab.weights import resolve_model

    reader = detect_dataset(data_root) if data == "auto" else data
    request = EvalRequest(
        weights=Path(run_or_weights) if Path(run_or_weights).suffix == ".onnx" else resolve_model(run_or_weights),
        data=reader,
        data_root=data_root,
        split=split,
        data_options=reader_options(reader, mode, holdout, holdout_group),
        subset=subset,
        occlusion=occlude,
        out=out,
        command=command_line(ctx),
        detector=detector,
        **(settings or {}),
    )  # checked on creation: a bad option is refused before torch loads
    from ferlab.evaluate.report import print_end_to_end, print_summary
    from ferlab.evaluate.run import run_evaluation

    record, out_dir = run_evaluation(request)
    (print_summary if detector is None else print_end_to_end)(console, record, out_dir)


def eval_detector_command(
    detector: str = typer.Argument(..., help="Face detector name, with options after a colon, as --detector takes."),
    data_root: Path = typer.Option(
        ..., "--data-root", help="WIDER FACE-format folder: WIDER_val/images/... and wider_face_split/*_gt.txt."
    ),
    out: Path | None = typer.Option(None, "--out", help="Per-photo CSV (default: detector_<name>.csv here)."),
    limit: int | None = typer.Option(None, "--limit", help="Score only the first N photos listed (after --every)."),
    every: int = typer.Option(1, "--every", min=1, help="Score every K-th photo listed, from --start."),
    start: int = typer.Option(
        0, "--start", min=0, help="Position (0-based) of the first photo --every picks: --every 2 --start 0|1 halves."
    ),
) -> None:
    """Score a face detector on photos annotated in WIDER FACE's format.

    Recall of faces >= 40 and >= 80 px (IoU 0.5), AP over the >= 40 px faces, false boxes per photo
    (boxes touching no annotated face), ms per photo. Exit code 0 when every photo was read, 1 when
    some were skipped (listed; the others are scored)."""
    from ferlab.evaluate.detection import listed_photos, score_detector, summary_fields
    from ferlab.faces import file_safe, get_detector

    built = get_detector(detector)
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=err_console) as progress:
        task = progress.add_task("photos", total=len(listed_photos(data_root, limit, every, start)))
        score = score_detector(
            built, data_root, detector, limit=limit, every=every, start=start, on_photo=lambda: progress.advance(task)
        )
    out = out or Path(f"detector_{file_safe(detector)}.csv")
    score.write_csv(out)
    print_measures(f"face detector {detector} on {data_root}", summary_fields(score))
    print_skipped(score.problems)
    console.print(Text(f"per-photo results: {out}"), highlight=False)
    if score.problems:
        raise typer.Exit(1)


def models_command() -> None:
    """List the model zoo: parameters and measured forward GFLOPs at each default input size."""
    from ferlab.models import profile_models

    print_model_profiles(profile_models())


@with_training_options(exclude=("model", "model_options", "init"))
def compare_command(
    ctx: typer.Context,
    models: str | None = typer.Option(None, "--models", help="Comma-separated model names (see `ferlab models`)."),
    entries: Path | None = typer.Option(
        None, "--entries", help="YAML list of rows instead of --models: model, label, model_options, options."
    ),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML of training options shared by all."),
    budget_minutes: float | None = typer.Option(
        None, help="Per model: stop training after the epoch that passes this many minutes."
    ),
    name: str | None = typer.Option(None, help="Outputs are compare_<name>.* (default: the dataset reader)."),
    runs_dir: Path | None = typer.Option(None, help="Folder of the runs (default runs/compare_<name>)."),
    out: Path = typer.Option(Path("results"), help="Folder of the table, CSV and figures."),
    timing_seconds: float = typer.Option(1.0, help="Seconds of timed passes per latency or throughput figure."),
    occlude: str = typer.Option(
        "", "--occlude", help="Comma-separated occlusions to score the test split under too: eyes, mouth, random."
    ),
    notes: Path | None = typer.Option(
        None, "--notes", help="Markdown file of findings, written into the table file (kept across re-runs)."
    ),
    pairs: str = typer.Option(
        "", "--pairs", help="Comma-separated A:B row labels compared head to head (McNemar), e.g. ran:ran_no_rb_loss."
    ),
    settings: dict[str, Any] | None = None,
) -> None:
    """Train (or reuse) several models under one protocol; table, CSV and figures of accuracy against cost."""
    require_training_extra("compare")
    from ferlab.engine import load_config
    from ferlab.evaluate.request import command_line
    from ferlab.study.compare import CompareEntry, CompareRequest, load_entries, run_compare

    if (models is None) == (entries is None):
        raise FerlabError("pass either --models NAME,NAME,... or --entries FILE.yaml")
    rows = (
        load_entries(entries)
        if entries
        else tuple(CompareEntry(m.strip()) for m in (models or "").split(",") if m.strip())
    )
    protocol = load_config(config, **settings)
    name = name or protocol.data
    request = CompareRequest(
        entries=rows,
        protocol=protocol,
        name=name,
        runs_dir=runs_dir or Path("runs") / f"compare_{name}",
        out=out,
        budget_minutes=budget_minutes,
        timing_seconds=timing_seconds,
        occlusions=tuple(mode.strip() for mode in occlude.split(",") if mode.strip()),
        notes=notes,
        pairs=tuple(parse_pair(pair) for pair in pairs.split(",") if pair.strip()),
        command=command_line(ctx),
    )
    result = run_compare(request, console)
    console.print(Text(f"table, CSV and figures written: {', '.join(map(str, result.files))}"), highlight=False)


def parse_pair(text: str) -> tuple[str, str]:
    """``A:B`` → ``("A", "B")``; `FerlabError` for anything else."""
    a, colon, b = text.strip().partition(":")
    if not colon or not a.strip() or not b.strip() or ":" in b:
        raise FerlabError(f"--pairs {text.strip()}: expected LABEL_A:LABEL_B")
    return a.strip(), b.strip()


@with_training_options()
def sweep_command(
    ctx: typer.Context,
    space: Path | None = typer.Option(None, "--space", help="YAML search space (hyperparameter: distribution)."),
    trials: int = typer.Option(20, "--trials", min=1, help="Finished trials of the study, all workers together."),
    config: Path | None = typer.Option(None, "--config", "-c", help="YAML of the base training options."),
    storage: str | None = typer.Option(
        None, help="Storage URL the workers share: sqlite:///FILE or postgresql://... (default: <out>/study.db)."
    ),
    study_name: str | None = typer.Option(None, help="Study name (default: the model name)."),
    out: Path | None = typer.Option(None, help="Folder of the trials and the report (default sweeps/<study-name>)."),
    heartbeat: int = typer.Option(
        60,
        min=1,
        help="Seconds between a running trial's heartbeats; a worker silent for twice as long is "
        "taken for dead and its trial failed.",
    ),
    report_only: bool = typer.Option(False, "--report-only", help="Only rewrite the report from the storage."),
    settings: dict[str, Any] | None = None,
) -> None:
    """Search hyperparameters with Optuna, pruning bad trials; report sensitivity, importances and a table.

    Several processes or machines work on one study when they share --storage and --study-name.
    """
    require_training_extra("sweep")
    from ferlab.engine import load_config
    from ferlab.evaluate.request import command_line

    try:
        from ferlab.study.sweep import default_storage, open_study, run_sweep, shown_url
        from ferlab.study.sweep_report import write_report
        from ferlab.study.sweep_space import load_space
    except ModuleNotFoundError as error:
        raise FerlabError(f'ferlab sweep needs {error.name}: pip install "ferlab[study]"') from None
    base = load_config(config, **settings)
    name = study_name or base.model
    out = out or Path("sweeps") / name
    if space is None and not report_only:
        raise FerlabError("no search space given: pass --space SPACE.yaml (or --report-only)")
    search = None if report_only else load_space(space, base)
    if storage is None:
        out.mkdir(parents=True, exist_ok=True)
    url = storage or default_storage(out)
    study = open_study(url, name, seed=base.seed, epochs=base.epochs, create=search is not None, heartbeat_s=heartbeat)
    if search is not None:
        run_sweep(study, base, search, trials, out, command_line(ctx).replace(url, shown_url(url)), console)
    files = write_report(study, out)
    console.print(Text(f"study {name!r} in {shown_url(url)}; report: {', '.join(map(str, files))}"), highlight=False)


def export_command(
    model: str = typer.Argument(..., metavar="RUN_OR_MODEL", help="Shipped model name, run folder or model file."),
    onnx: Path = typer.Option(..., "--onnx", help="ONNX file to write (missing folders are created)."),
    opset: int | None = typer.Option(None, "--opset", help="ONNX opset, 18 to 23 (default 20)."),
    int8: bool = typer.Option(
        False,
        "--int8",
        help="Quantize to 8-bit integers (ONNX Runtime static quantization), calibrated on training images of "
        "--data-root: 1.6-2.9x faster on a CPU with AVX512-VNNI, nearly every decision kept.",
    ),
    data: str = DataOption,
    data_root: Path | None = typer.Option(None, "--data-root", help="With --int8: the calibration dataset."),
    mode: str = ModeOption,
    calibration_images: int = typer.Option(
        512, "--calibration-images", help="With --int8: training images drawn (fixed seed) to calibrate on."
    ),
) -> None:
    """Export a model to ONNX: float32 normalised input (dynamic batch), logits out.

    Classes, preprocessing and temperatures go in the model's metadata.
    """
    require_training_extra("export")
    from ferlab.data import detect_dataset
    from ferlab.models.onnx_export import export_onnx

    if int8 != (data_root is not None):
        raise FerlabError("--int8 needs --data-root (the calibration images), and --data-root is for --int8 only")
    if not int8:
        path = export_onnx(model, onnx, opset)
    else:
        from ferlab.models.quantize import calibration_crops, quantize_onnx

        reader = detect_dataset(data_root) if data == "auto" else data
        crops = calibration_crops(reader, data_root, reader_options(reader, mode), calibration_images)
        with tempfile.TemporaryDirectory() as scratch:
            path = quantize_onnx(export_onnx(model, Path(scratch) / "float32.onnx", opset), onnx, crops)
    console.print(Text(f"{model} exported to {path} ({path.stat().st_size / 1e6:.1f} MB)"), highlight=False)


def soup_command(
    models: list[str] = typer.Argument(
        ..., metavar="RUN_OR_MODEL...", help="Two or more run folders, model files or shipped model names."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder to write best.pt and soup.json in (created)."),
) -> None:
    """Average the weights of like models (a "model soup") into one model of the same size.

    For runs fine-tuned from the same weights; score the result with `ferlab eval OUT`.
    """
    require_training_extra("soup")
    from ferlab.engine.soup import make_soup

    path = make_soup(models, out)
    console.print(Text(f"{len(models)} models averaged into {path}"), highlight=False)


def explain_command(
    run: str = typer.Argument(..., metavar="RUN", help="Run folder, model file or shipped model name."),
    images: list[Path] | None = typer.Argument(
        None, metavar="IMAGE", help="Photos: the surest face of each is cropped and aligned (else the whole image)."
    ),
    data: str = DataOption,
    data_root: Path | None = typer.Option(None, "--data-root", help="Explain images of this dataset instead."),
    split: str = typer.Option("test", "--split", help="Split of --data-root: train, val, test or all."),
    n: int = typer.Option(16, "--n", help="How many images of the split."),
    seed: int | None = typer.Option(None, "--seed", help="Take n random images (this seed), not the first n."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="Output folder (default: <RUN>/explain for a run folder, else explain)."
    ),
    cam_layer: str | None = typer.Option(
        None,
        "--cam-layer",
        help="Module whose output Grad-CAM reads, e.g. stages.2 (default: the last "
        "feature map; an earlier one is finer).",
    ),
    detector: str = DetectorOption,
    mode: str = ModeOption,
) -> None:
    """What a model looks at, as PNG grids: learning curves, activation maps, Grad-CAM and more.

    Also the spatial transformer's warp (deep_emotion), the attention map (attention_net) or the
    region weights (ran).
    """
    require_training_extra("explain")
    from ferlab.data import detect_dataset
    from ferlab.interpret.explain import default_out, explain, photo_inputs, run_history, split_inputs
    from ferlab.models.files import load_model
    from ferlab.weights import resolve_model

    if bool(images) == (data_root is not None):
        raise FerlabError("give IMAGE files or --data-root PATH (with --split, --n), exactly one of them")
    model, record = load_model(resolve_model(run))
    if images:
        inputs = photo_inputs(images, model.input_size, detector)
    else:
        reader = detect_dataset(data_root) if data == "auto" else data
        inputs = split_inputs(reader, data_root, split, n, seed, reader_options(reader, mode))
    for note in inputs.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    report = explain(model, record, inputs, out or default_out(run), run_history(run), cam_layer)
    console.print(
        Text(
            f"{len(report.predictions)} face(s) explained; written to {report.out}: "
            f"{', '.join(path.name for path in report.files)}, explain.json"
        ),
        highlight=False,
    )
