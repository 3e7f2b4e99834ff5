"""The application commands: predict, demo, video, serve.

They run the application layer only (`ferlab.app`, `ferlab.faces`, `ferlab.serve`, `ferlab.weights`): nothing
here imports the research layer (engine, evaluate, study) or torch, which `tests/test_layers.py` checks.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import MofNCompleteColumn, Progress
from rich.text import Text

from ferlab.checks import check_path
from ferlab.cli.options import (
    BACKEND_HELP,
    DETECTOR_HELP,
    MODEL_HELP,
    PRIOR_HELP,
    TTA_HELP,
    AppTtaOption,
    BackendOption,
    DetectorOption,
    ModelNameOption,
    PriorOption,
    with_settings_options,
)
from ferlab.cli.tables import console, err_console, print_faces, print_video_summary
from ferlab.errors import FerlabError
from ferlab.interrupts import interrupted_exit_code
from ferlab.serve.settings import ServeSettings


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
        print_faces(report)
    if report.interrupted:
        raise typer.Exit(interrupted_exit_code())
    if report.problems:
        raise typer.Exit(1)


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
    print_faces(report)
    console.print(Text(f"annotated image: {out / report.images[0]['annotated']}"))


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
    print_video_summary(report, out)


SERVE_HELP = {
    "host": "Address to listen on; 127.0.0.1 is this machine only.",
    "port": "TCP port.",
    "model": MODEL_HELP,
    "detector": DETECTOR_HELP,
    "backend": BACKEND_HELP,
    "tta": TTA_HELP,
    "prior": PRIOR_HELP,
    "max_upload_mb": "Largest request body, in MiB.",
    "max_pixels": "Largest image, width x height.",
    "timeout_s": "Longest time a request may take, in seconds (body upload and analysis).",
    "header_timeout_s": "Longest time a request's headers may take; the connection is then closed.",
}
"""The ``--help`` of each `ServeSettings` field that is a flag; names, types, defaults and limits come from
the settings themselves."""


@with_settings_options(ServeSettings, SERVE_HELP, exclude=("max_batch_files",), aliases={"model": ("-m",)})
def serve_command(settings: dict[str, Any] | None = None) -> None:
    """Serve the REST API (/v1/analyze, /docs) and its web page (/) until Ctrl+C; needs the serve extra."""
    from ferlab.serve import check_installed

    check_installed()
    from ferlab.serve.server import run_server

    run_server(ServeSettings(**(settings or {})))
