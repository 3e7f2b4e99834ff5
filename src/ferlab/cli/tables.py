"""What the commands print: the consoles and the result tables (Rich).

Torch-free; each function takes a command's result and prints it. File names and other text from the user
are printed literally (`rich.text.Text` or escaped), never parsed for markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from pathlib import Path

    from ferlab.app.predict import PredictReport
    from ferlab.app.video import VideoReport
    from ferlab.data import FaceDataset

console = Console()
err_console = Console(stderr=True)


def print_faces(report: PredictReport) -> None:
    """One table row per face found; then every image with no face and every file skipped, with why."""
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
    print_skipped(report.problems)
    done = len(report.images) + len(report.problems)
    summary = (
        f"{report.faces} face(s) in {len(report.images)} image(s); {len(report.no_face)} with no face, "
        f"{len(report.problems)} file(s) skipped"
    )
    if report.interrupted:
        summary = f"interrupted after {done} of {report.files} file(s): {summary}"
    console.print(Text(f"{summary}; written to {report.out}" if report.out else summary), highlight=False)


def print_skipped(problems: Iterable[Any]) -> None:
    """``skipped: <file>: <why>`` on stderr, one line each."""
    for problem in problems:
        err_console.print(Text.assemble(("skipped: ", "yellow"), str(problem)), highlight=False, soft_wrap=True)


def print_video_summary(report: VideoReport, out: Path) -> None:
    """One row per face followed through the video: when it was seen and its dominant expression."""
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


def print_dataset_info(reader: str, path: Path, splits: list[FaceDataset]) -> None:
    """Class counts per split, then the files the reader skipped (the first 10)."""
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


def print_measures(title: str, measures: dict[str, str]) -> None:
    """A two-column table of named measures."""
    table = Table("measure", "value", title=title)
    for key, value in measures.items():
        table.add_row(key, Text(value))
    console.print(table)


def print_model_profiles(profiles: Iterable[Any]) -> None:
    """The model zoo: one row per model (`ferlab.models.profile_models`)."""
    table = Table(
        title="ferlab models: forward GFLOPs per image at the default input size, measured with "
        "torch FlopCounterMode (a multiply-add counts as 2 FLOPs)"
    )
    for column, justify in (("name", "left"), ("input", "left"), ("params", "right"), ("GFLOPs", "right")):
        table.add_column(column, justify=justify, no_wrap=True)
    table.add_column("description")
    for p in profiles:
        size = "x".join(map(str, p.input_size))
        table.add_row(p.name, size, f"{p.params:,}", f"{p.flops / 1e9:.3f}", p.description)
    console.print(table)
