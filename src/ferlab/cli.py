"""The `ferlab` command line: one Typer app, one sub-command per job.

Every `FerlabError` raised below is printed on one line and turned into exit code 2;
no traceback reaches the user for input they can fix.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import MofNCompleteColumn, Progress
from rich.table import Table
from rich.text import Text

from ferlab.checks import check_path
from ferlab.cli_options import PriorOption
from ferlab.errors import FerlabError
from ferlab.faces import DEFAULT_DETECTOR
from ferlab.interrupts import handle_termination, interrupted_exit_code
from ferlab.monitor.cli import monitor_app
from ferlab.train_options import with_training_options
from ferlab.version import package_version
from ferlab.weights import DEFAULT_MODEL

if TYPE_CHECKING:
    from ferlab.app.predict import PredictReport
    from ferlab.data import FaceDataset

TRAIN_PACKAGES = ("torch", "torchvision", "kornia", "torchmetrics")
"""What the research commands (train, eval, export, compare, sweep, explain) import."""

app = typer.Typer(
    name="ferlab",
    help="Facial expression recognition: data, models, training, evaluation, faces.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
console = Console()
err_console = Console(stderr=True)


def _show_version(value: bool) -> None:
    if value:
        console.print(f"ferlab {package_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Facial expression recognition toolkit."""


data_app = typer.Typer(help="Inspect and convert datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(monitor_app, name="monitor")

DataOption = typer.Option("auto", "--data", "-d", help="Reader: auto, fer2013, ferplus, folder, affectnet, rafdb.")
ModeOption = typer.Option("majority", "--mode", help="FERPlus label mode: majority, probability, crossentropy.")


HoldoutOption = typer.Option(
    0.0,
    "--holdout",
    help="folder reader, a folder without split folders: hold out this fraction of each class (fixed seed) as "
    "val, the rest is train.",
)


def _reader_options(reader: str, mode: str, holdout: float = 0.0) -> dict[str, Any]:
    if reader == "ferplus":
        return {"mode": mode}
    if holdout:
        if reader != "folder":
            raise FerlabError(f"--holdout applies to the folder reader, not {reader}")
        return {"holdout": holdout}
    return {}


def require_training_extra(command: str) -> None:
    """Stop a research command in one line when the training stack is not installed."""
    missing = [name for name in TRAIN_PACKAGES if importlib.util.find_spec(name) is None]
    if missing:
        raise FerlabError(
            f'ferlab {command} needs the training extra ({", ".join(missing)} missing): pip install "ferlab[train]"'
        )


def _available_splits(reader: str, path: Path, options: dict) -> list[FaceDataset]:
    """Every split of the dataset at ``path`` that exists (``all`` when it has none)."""
    from ferlab.data import load_dataset
    from ferlab.data.dataset import SplitUnavailable

    found = []
    for split in ("train", "val", "test"):
        try:
            found.append(load_dataset(reader, path, split, **options))
        except SplitUnavailable:
            pass
    return found or [load_dataset(reader, path, "all", **options)]


@data_app.command("info")
def data_info(
    path: Path = typer.Argument(..., help="Dataset file or folder."),
    data: str = DataOption,
    mode: str = ModeOption,
) -> None:
    """Print splits, class counts and image size of a dataset."""
    from ferlab.data import detect_dataset

    reader = detect_dataset(path) if data == "auto" else data
    splits = _available_splits(reader, path, _reader_options(reader, mode))
    first = splits[0]
    title = (
        f"{reader} at {escape(str(path))}: {sum(map(len, splits)):,} images, "
        f"{first.image_size[0]}x{first.image_size[1]}"
    )
    table = Table(title=title + (" RGB" if first.channels == 3 else " grayscale"))
    table.add_column("class")
    for dataset in splits:
        table.add_column(dataset.split, justify="right")
    for name in first.classes:
        table.add_row(name, *(f"{d.class_counts()[name]:,}" for d in splits))
    table.add_row("total", *(f"{len(d):,}" for d in splits), style="bold")
    console.print(table)
    problems = [p for d in splits for p in d.problems]
    for problem in problems[:10]:
        console.print(f"[yellow]skipped[/] {escape(str(problem))}", highlight=False)
    if len(problems) > 10:
        console.print(f"[yellow]... and {len(problems) - 10} more skipped files[/]")
    if reader == "fer2013" and (path if path.is_dir() else path.parent).joinpath("fer2013new.csv").is_file():
        console.print("FERPlus labels (fer2013new.csv) found here too: see them with --data ferplus")


@data_app.command("export-images")
def data_export_images(
    path: Path = typer.Argument(..., help="Dataset file or folder."),
    out: Path = typer.Argument(..., help="Folder to write <split>/<class>/<name>.png into."),
    data: str = DataOption,
    mode: str = ModeOption,
    force: bool = typer.Option(False, "--force", help="Write into a folder that is not empty."),
) -> None:
    """Write a dataset as an image-folder layout that `--data folder` reads back."""
    from ferlab.data import detect_dataset
    from ferlab.data.export import export_images

    if out.exists() and any(out.iterdir()) and not force:
        raise FerlabError(f"{out}: folder is not empty; pass --force to write into it")
    reader = detect_dataset(path) if data == "auto" else data
    splits = _available_splits(reader, path, _reader_options(reader, mode))
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=console) as progress:
        for dataset in splits:
            task = progress.add_task(f"{dataset.split}", total=len(dataset))
            written = export_images(dataset, out, on_image=partial(progress.advance, task))
            progress.console.print(
                f"{dataset.split}: {written:,} images written to {out / dataset.split}", markup=False, highlight=False
            )


@app.command("train")
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


@app.command("eval")
def eval_command(
    ctx: typer.Context,
    run_or_weights: str = typer.Argument(..., metavar="MODEL", help="Shipped model name, run folder or model file."),
    data: str = DataOption,
    data_root: Path = typer.Option(..., "--data-root", help="The dataset's file or folder."),
    split: str = typer.Option("test", "--split", help="Split to score: train, val, test or all."),
    tta: str = typer.Option("none", "--tta", help="Test-time augmentation: none, flip, tencrop (logits averaged)."),
    prior: str = PriorOption,
    subset: Path | None = typer.Option(
        None, "--subset", help="File naming the images to score: FERPlus names or dataset indices, one a line."
    ),
    occlude: str = typer.Option("none", "--occlude", help="Gray out a region first: none, random, eyes, mouth."),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default: eval_<data>_<split>[_tta-..][_occlude-..] in the run)."
    ),
    batch_size: int = typer.Option(256, "--batch-size", help="Images per forward pass."),
    mode: str = ModeOption,
    holdout: float = HoldoutOption,
    detector: str | None = typer.Option(
        None,
        "--detector",
        help="Score end to end: each labelled image file through a detector (yunet, blazeface, opencv, dlib, mtcnn, "
        f"or none; the application's is {DEFAULT_DETECTOR}; options after a colon, as in predict), crop rule, crop "
        "and model; the "
        "largest face counts, a missed face is wrong. Default: score the dataset's crops.",
    ),
) -> None:
    """Score a model on a split (accuracy, F1, confusion, calibration), or end to end on photos.

    On a split: accuracy, F1, confusion matrix, calibration (ECE, temperature). With --detector,
    end to end on the photos: detection rate and accuracy with 95% CIs.
    """
    require_training_extra("eval")
    from ferlab.data import detect_dataset
    from ferlab.evaluate.request import EvalRequest, command_line
    from ferlab.weights import resolve_model

    reader = detect_dataset(data_root) if data == "auto" else data
    request = EvalRequest(
        weights=resolve_model(run_or_weights),
        data=reader,
        data_root=data_root,
        split=split,
        data_options=_reader_options(reader, mode, holdout),
        tta=tta,
        prior=prior,
        subset=subset,
        occlusion=occlude,
        out=out,
        batch_size=batch_size,
        command=command_line(ctx),
        detector=detector,
    )  # checked on creation: a bad option is refused before torch loads
    from ferlab.evaluate.report import print_end_to_end, print_summary
    from ferlab.evaluate.run import run_evaluation

    record, out_dir = run_evaluation(request)
    (print_summary if detector is None else print_end_to_end)(console, record, out_dir)


@app.command("eval-detector")
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
    table = Table("measure", "value", title=f"face detector {detector} on {data_root}")
    for key, value in summary_fields(score).items():
        table.add_row(key, Text(value))
    console.print(table)
    for problem in score.problems:
        err_console.print(Text.assemble(("skipped: ", "yellow"), str(problem)), highlight=False, soft_wrap=True)
    console.print(Text(f"per-photo results: {out}"), highlight=False)
    if score.problems:
        raise typer.Exit(1)


@app.command("models")
def models() -> None:
    """List the model zoo: parameters and measured forward GFLOPs at each default input size."""
    from ferlab.models import profile_models

    table = Table(
        title="ferlab models: forward GFLOPs per image at the default input size, measured with "
        "torch FlopCounterMode (a multiply-add counts as 2 FLOPs)"
    )
    for column, justify in (("name", "left"), ("input", "left"), ("params", "right"), ("GFLOPs", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    table.add_column("description")
    for p in profile_models():
        size = "x".join(map(str, p.input_size))
        table.add_row(p.name, size, f"{p.params:,}", f"{p.flops / 1e9:.3f}", p.description)
    console.print(table)


@app.command("compare")
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


@app.command("sweep")
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


ModelNameOption = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Shipped model name, run folder or model file.")
DetectorOption = typer.Option(
    DEFAULT_DETECTOR,
    "--detector",
    help="Face detector: yunet, blazeface, opencv, dlib, mtcnn, or none (each image is one face crop), with options "
    "after a colon: yunet:threshold=0.8 (fewer false positives), blazeface:threshold=0.65, opencv:min_neighbors=8, "
    "dlib:threshold=0.5, "
    "mtcnn:thresholds=(0.6,0.7,0.9). With a "
    "detector, an image with no face found that is at most 400 px and about square is classified whole "
    "(detector: none).",
)
BackendOption = typer.Option(
    "auto",
    "--backend",
    help="What runs the model: torch, onnx (ONNX Runtime; shipped models bundle their export, others are exported "
    "once to the cache) or auto (onnx when it can run here without a GPU, else torch).",
)
AppTtaOption = typer.Option(
    "none",
    "--tta",
    help="Test-time augmentation of each face: none, flip (2x the classifier's work) or tencrop (10x); the logits "
    "of the views are averaged. Model cards give the accuracy of each.",
)


def _print_faces(report: PredictReport) -> None:
    """One table row per face found; then every image with no face and every file skipped, with why.

    File names are printed literally (as `rich.text.Text`, never parsed for markup)."""
    table = Table("file", "face", "box (x1, y1, x2, y2)", "detector", "expression", "probability")
    for image in report.images:
        for i, face in enumerate(image["faces"]):
            box = ", ".join(f"{v:.0f}" for v in face["box"])
            confidence = face["probabilities"][face["label"]]
            table.add_row(Text(image["file"]), str(i), box, face["detector"], face["label"], f"{confidence:.2f}")
    console.print(table)
    for image in report.images:
        for note in image.get("notes", []):
            err_console.print(Text.assemble(("note: ", "yellow"), f"{image['file']}: {note}"), soft_wrap=True)
    for name in report.no_face:
        err_console.print(Text.assemble(("no face: ", "yellow"), name), highlight=False, soft_wrap=True)
    for problem in report.problems:
        err_console.print(Text.assemble(("skipped: ", "yellow"), str(problem)), highlight=False, soft_wrap=True)
    done = len(report.images) + len(report.problems)
    summary = (
        f"{report.faces} face(s) in {len(report.images)} image(s); {len(report.no_face)} with no face, "
        f"{len(report.problems)} file(s) skipped"
    )
    if report.interrupted:
        summary = f"interrupted after {done} of {report.files} file(s): {summary}"
    console.print(Text(f"{summary}; written to {report.out}" if report.out else summary), highlight=False)


@app.command("predict")
def predict_command(
    source: str = typer.Argument(
        ..., help="An image file or a folder of images (searched recursively; the output folder excluded)."
    ),
    detector: str = DetectorOption,
    model: str = ModelNameOption,
    backend: str = BackendOption,
    tta: str = AppTtaOption,
    prior: str = PriorOption,
    out: str = typer.Option("predictions", "--out", "-o", help="Output folder."),
    save_crops: bool = typer.Option(False, "--save-crops", help="Save face crops under OUT/crops/<label>/."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON instead of a table."),
) -> None:
    """Find faces and their expressions in photos: annotated images, faces.csv/json, crops.

    Every file of a folder is tried (Pillow reads by content); files with no face and files
    skipped are listed with the reason. Exit code 0 when every file was read, 1 when some
    were skipped (the rest is written), 128 + the signal's number after Ctrl+C (130), SIGTERM (143) or SIGHUP
    (129): the tables of the files done are written.
    """
    from ferlab.app import FaceAnalyzer
    from ferlab.app.predict import image_files, predict_files

    out_folder = check_path(out, "--out")
    root, files = image_files(check_path(source, "SOURCE"), out_folder)
    analyzer = FaceAnalyzer(detector, model, backend=backend, tta=tta, prior=prior)
    with Progress(
        *Progress.get_default_columns(), MofNCompleteColumn(), console=err_console, disable=as_json or len(files) < 2
    ) as progress:
        task = progress.add_task("images", total=len(files))
        try:
            report = predict_files(
                root, files, analyzer, out_folder, save_crops, on_file=lambda _: progress.advance(task)
            )
        except KeyboardInterrupt as interrupt:
            report = interrupt.report
    if as_json:
        print(json.dumps(report.to_dict(), indent=1))
    else:
        _print_faces(report)
    if report.interrupted:
        raise typer.Exit(interrupted_exit_code())
    if report.problems:
        raise typer.Exit(1)


@app.command("demo")
def demo_command(
    out: Path = typer.Option(Path("ferlab-demo"), "--out", "-o", help="Output folder."),
    detector: str = DetectorOption,
    model: str = ModelNameOption,
    backend: str = BackendOption,
    tta: str = AppTtaOption,
    prior: str = PriorOption,
) -> None:
    """Run the whole pipeline on a bundled photo (NASA, public domain): faces, expressions, annotated image."""
    from ferlab.app import FaceAnalyzer
    from ferlab.app.demo import run_demo

    report = run_demo(FaceAnalyzer(detector, model, backend=backend, tta=tta, prior=prior), out)
    _print_faces(report)
    console.print(Text(f"annotated image: {out / report.images[0]['annotated']}"))


@app.command("video")
def video_command(
    file: Path | None = typer.Argument(None, help="A video file (mp4, avi, mov, mkv...)."),
    webcam: int | None = typer.Option(None, "--webcam", help="Read webcam N (0: the default camera) instead."),
    every: int = typer.Option(1, "--every", help="Analyse every K-th frame."),
    max_frames: int | None = typer.Option(None, "--max-frames", help="Stop after this many analysed frames."),
    out: Path | None = typer.Option(None, "--out", "-o", help="Output folder (default: video_<stem> or webcam_<N>)."),
    detector: str = DetectorOption,
    model: str = ModelNameOption,
    backend: str = BackendOption,
    tta: str = AppTtaOption,
    prior: str = PriorOption,
    detect_size: int | None = typer.Option(
        None, "--detect-size", help="Search for faces in a copy shrunk to N pixels (480: 1.4x faster on 640x480)."
    ),
    search_every: int = typer.Option(
        10,
        "--search-every",
        help="Search the whole frame every K-th analysed frame; in between only around the faces already found "
        "(a lost face triggers a full search). 1: search every frame fully.",
    ),
) -> None:
    """Faces, ids and expressions over time in a video or webcam: annotated.mp4, timeline.csv/json/png, summary.json.

    Ctrl+C stops the run and still writes what was gathered so far.
    """
    import time

    from ferlab.app import FaceAnalyzer
    from ferlab.app.video import analyze_video, check_sampling, open_video
    from ferlab.faces import get_detector
    from ferlab.faces.roi import RoiDetector

    if (file is None) == (webcam is None):
        raise FerlabError("give a video FILE or --webcam N (exactly one of them)")
    source = webcam if file is None else file
    out = out or Path(f"webcam_{webcam}" if file is None else f"video_{file.stem}")
    check_sampling(every, max_frames)  # bad options, files and cameras fail here, before the model loads
    open_video(source).release()
    analyzer = FaceAnalyzer(
        RoiDetector(get_detector(detector, max_side=detect_size), search_every),
        model,
        backend=backend,
        tta=tta,
        prior=prior,
    )
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=err_console) as progress:
        task = progress.add_task("frames", total=None)
        start = time.perf_counter()

        def on_frame(done: int, total: int | None) -> None:
            rate = done / (time.perf_counter() - start)
            progress.update(task, completed=done, total=total, description=f"{rate:.1f} frames/s")

        report = analyze_video(source, analyzer, out, every, max_frames, on_frame)
    summary = report.summary
    table = Table("face", "seen (s)", "frames", "dominant emotion", "share")
    for face_id, face in summary["faces"].items():
        dominant = face["dominant"]
        table.add_row(
            f"#{face_id}",
            f"{face['first_s']:.1f}-{face['last_s']:.1f}",
            str(face["frames"]),
            dominant,
            f"{face['share'][dominant]:.0%}",
        )
    console.print(table)
    console.print(
        f"{'interrupted after ' if report.interrupted else ''}{report.frames_processed} frames analysed "
        f"({summary['frames_with_faces']} with a face) at {report.processing_fps:.1f} frames/s; "
        f"outputs written to {escape(str(out))}",
        highlight=False,
    )


@app.command("export")
def export_command(
    model: str = typer.Argument(..., metavar="RUN_OR_MODEL", help="Shipped model name, run folder or model file."),
    onnx: Path = typer.Option(..., "--onnx", help="ONNX file to write (missing folders are created)."),
    opset: int | None = typer.Option(None, "--opset", help="ONNX opset, 18 to 23 (default 20)."),
) -> None:
    """Export a model to ONNX: float32 normalised input (dynamic batch), logits out.

    Classes, preprocessing and temperatures go in the model's metadata.
    """
    require_training_extra("export")
    from ferlab.models.onnx_export import export_onnx

    path = export_onnx(model, onnx, opset)
    console.print(Text(f"{model} exported to {path} ({path.stat().st_size / 1e6:.1f} MB)"), highlight=False)


@app.command("explain")
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
        inputs = split_inputs(reader, data_root, split, n, seed, _reader_options(reader, mode))
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


@app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; 127.0.0.1 is this machine only."),
    port: int = typer.Option(8000, "--port", help="TCP port."),
    model: str = ModelNameOption,
    detector: str = DetectorOption,
    backend: str = BackendOption,
    tta: str = AppTtaOption,
    prior: str = PriorOption,
    max_upload_mb: float = typer.Option(10.0, "--max-upload-mb", help="Largest request body, in MiB."),
    max_pixels: int = typer.Option(40_000_000, "--max-pixels", help="Largest image, width x height."),
    timeout_s: float = typer.Option(
        30.0, "--timeout-s", help="Longest time a request may take, in seconds (body upload and analysis)."
    ),
    header_timeout_s: float = typer.Option(
        10.0, "--header-timeout-s", help="Longest time a request's headers may take; the connection is then closed."
    ),
) -> None:
    """Serve the REST API (/v1/analyze, /docs) and its web page (/) until Ctrl+C; needs the serve extra."""
    from ferlab.serve import check_installed

    check_installed()
    from ferlab.serve.server import run_server
    from ferlab.serve.settings import ServeSettings

    run_server(
        ServeSettings(
            host=host,
            port=port,
            model=model,
            detector=detector,
            backend=backend,
            tta=tta,
            prior=prior,
            max_upload_mb=max_upload_mb,
            max_pixels=max_pixels,
            timeout_s=timeout_s,
            header_timeout_s=header_timeout_s,
        )
    )


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the app, turning `FerlabError` into a one-line error.

    SIGTERM and SIGHUP stop it as Ctrl+C does (`ferlab.interrupts`)."""
    try:
        with handle_termination():
            app(args=argv, prog_name="ferlab")
    except FerlabError as error:
        err_console.print(f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(interrupted_exit_code())


if __name__ == "__main__":
    main()
