"""`ferlab data`: inspect and convert datasets (the research layer's readers, imported inside each command)."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.progress import MofNCompleteColumn, Progress

from ferlab.cli.options import DataOption, ModeOption, reader_options
from ferlab.cli.tables import console, print_dataset_info
from ferlab.errors import FerlabError

if TYPE_CHECKING:
    from ferlab.data import FaceDataset

data_app = typer.Typer(help="Inspect and convert datasets.", no_args_is_help=True)


def available_splits(reader: str, path: Path, options: dict) -> list[FaceDataset]:
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
    print_dataset_info(reader, path, available_splits(reader, path, reader_options(reader, mode)))
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
    splits = available_splits(reader, path, reader_options(reader, mode))
    with Progress(*Progress.get_default_columns(), MofNCompleteColumn(), console=console) as progress:
        for dataset in splits:
            task = progress.add_task(f"{dataset.split}", total=len(dataset))
            written = export_images(dataset, out, on_image=partial(progress.advance, task))
            progress.console.print(
                f"{dataset.split}: {written:,} images written to {out / dataset.split}", markup=False, highlight=False
            )
