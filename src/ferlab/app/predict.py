"""The `ferlab predict` job: every face in a photo or a folder of photos, written to disk.

Outputs under ``out``: ``annotated/<relative path>.png`` (boxes and labels drawn; a name
another file of the run already took gets ``~2``, ``~3``... so outputs never collide, and
each image's record names its file), ``faces.csv`` and ``faces.json`` (one record per face:
file, box, landmarks, label, every probability, the detector that found it; ``notes`` on the file, such
as "3 pages or frames; only the first is read": a multi-page file is read at its first page), and with
``save_crops`` ``crops/<label>/<name>_face<i>.png`` (colour crops for people to review; ``<name>``
is the annotated image's, subfolders kept, so crop names are unique as those are).
An output folder inside the folder analysed is never read as input.

Every file under a folder is tried, whatever its extension: Pillow decides by content
what it can read. A file that cannot be read (not an image, a broken symbolic link, a
corrupt file) is listed under ``errors`` in ``faces.json`` with its reason, images with no
face under ``no_face``, and the other files are still processed. When the job is
interrupted (Ctrl+C), the tables are written for the images done before it stops.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ferlab.app.analyze import WHOLE_IMAGE, FaceAnalyzer, FaceResult, load_rgb
from ferlab.app.draw import annotate, save_rgb
from ferlab.atomic import write_atomically, write_csv_atomically
from ferlab.data.dataset import Problem
from ferlab.data.images import ImageWarning
from ferlab.errors import FerlabError
from ferlab.faces import align_face, as_rgb
from ferlab.preprocess import CROP_MARGIN

REVIEW_CROP_MAX = 256
"""Largest side of a saved review crop, in pixels."""


@dataclass
class PredictReport:
    """What a predict job did: one record per image, the problems, where it wrote."""

    images: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    out: Path | None = None
    files: int = 0
    """Files the job was given."""
    interrupted: bool = False
    """Whether the job stopped early (Ctrl+C): the tables cover the images done before."""

    @property
    def faces(self) -> int:
        """Faces found in all images."""
        return sum(len(image["faces"]) for image in self.images)

    @property
    def no_face(self) -> list[str]:
        """The images in which no face was found."""
        return [image["file"] for image in self.images if not image["faces"]]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``images`` (file, size, faces, annotated output), ``no_face`` (files),
        ``errors`` (file, error: the files that could not be read), ``files`` and ``interrupted``."""
        return {
            "images": self.images,
            "no_face": self.no_face,
            "errors": [{"file": p.path, "error": p.reason} for p in self.problems],
            "files": self.files,
            "interrupted": self.interrupted,
        }


def image_files(source: Path, out: Path | None = None) -> tuple[Path, list[Path]]:
    """``(root, files)``: the file itself, or every file under a folder (sorted, recursive, hidden files and
    broken symbolic links included: each is tried, and reported when it is not an image), except those under
    the output folder ``out`` (a job never reads its own outputs)."""
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if (p.is_symlink() or not p.is_dir()) and not _within(p, out))
        if not files:
            raise FerlabError(f"{source}: the folder is empty")
        return source, files
    if source.is_file() or source.is_symlink():
        return source.parent, [source]
    raise FerlabError(f"{source}: no such file or folder")


def _within(path: Path, folder: Path | None) -> bool:
    """Whether ``path`` (not followed if a link) lies in ``folder``."""
    if folder is None:
        return False
    return (path.parent.resolve() / path.name).is_relative_to(folder.resolve())


def review_crop(rgb: np.ndarray, face: FaceResult, margin: float = CROP_MARGIN) -> np.ndarray:
    """An RGB crop of the face (aligned, with margin) at about its native resolution; a whole-image
    face is the image itself."""
    if face.detector == WHOLE_IMAGE:
        return as_rgb(rgb)
    x1, y1, x2, y2 = face.box
    side = int(min(REVIEW_CROP_MAX, max(48, round(max(x2 - x1, y2 - y1) * (1 + 2 * margin)))))
    return align_face(rgb, face.as_face(), (side, side), grayscale=False, margin=margin)


def predict_images(
    source: Path,
    analyzer: FaceAnalyzer,
    out: Path | None,
    save_crops: bool = False,
    on_file: Callable[[Path], None] | None = None,
) -> PredictReport:
    """Analyse ``source`` (an image or a folder); write the outputs under ``out`` unless it is None.

    ``on_file`` is called after each file (for progress bars).
    """
    root, files = image_files(source, out)
    return predict_files(root, files, analyzer, out, save_crops, on_file)


def predict_files(
    root: Path,
    files: list[Path],
    analyzer: FaceAnalyzer,
    out: Path | None,
    save_crops: bool = False,
    on_file: Callable[[Path], None] | None = None,
) -> PredictReport:
    """`predict_images` on files already listed by `image_files` (paths relative to ``root`` name the outputs).

    On KeyboardInterrupt the tables of the images done are written, then it is raised again
    with the report as its ``report`` attribute.
    """
    report = PredictReport(out=out, files=len(files))
    names = OutputNames()
    try:
        for path in files:
            _predict_file(root, path, analyzer, out, save_crops, report, names)
            if on_file is not None:
                on_file(path)
    except KeyboardInterrupt as interrupt:
        report.interrupted = True
        interrupt.report = report
        raise
    finally:
        if out is not None:
            write_tables(report, out)
    return report


def _predict_file(
    root: Path,
    path: Path,
    analyzer: FaceAnalyzer,
    out: Path | None,
    save_crops: bool,
    report: PredictReport,
    names: OutputNames,
) -> None:
    relative = path.relative_to(root)
    if path.is_symlink() and not path.exists():
        report.problems.append(Problem(str(path), f"broken symbolic link (to {os.readlink(path)})"))
        return
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ImageWarning)
            rgb = load_rgb(path)
    except FerlabError as error:
        report.problems.append(Problem(str(path), str(error).removeprefix(f"{path}: ")))
        return
    faces = analyzer.analyze(rgb)
    record: dict[str, Any] = {
        "file": relative.as_posix(),
        "width": rgb.shape[1],
        "height": rgb.shape[0],
        "faces": [face.to_dict() for face in faces],
    }
    notes = [str(w.message).removeprefix(f"{path}: ") for w in caught if issubclass(w.category, ImageWarning)]
    if notes:
        record["notes"] = notes
    if out is None:
        report.images.append(record)
        return
    name = names.claim(relative)
    record["annotated"] = f"annotated/{name}.png"
    try:  # an image is done, and in the tables, once its files are written
        report.images.append(record)
        save_rgb(out / record["annotated"], annotate(rgb, faces))
        if save_crops:
            for i, face in enumerate(faces):
                save_rgb(out / "crops" / face.label / f"{name}_face{i}.png", review_crop(rgb, face))
    except BaseException:
        if report.images and report.images[-1] is record:
            report.images.pop()
        raise


class OutputNames:
    """Output names of a run's images that never collide: ``a.jpg`` → ``a``, then ``a.png`` → ``a~2``.

    Names are compared case-insensitively, so they do not collide on case-insensitive disks either.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def claim(self, relative: Path) -> str:
        """A free name (POSIX path without extension) for the image at ``relative``."""
        base = relative.with_suffix("").as_posix()
        name, n = base, 1
        while name.lower() in self._taken:
            n += 1
            name = f"{base}~{n}"
        self._taken.add(name.lower())
        return name


CSV_COLUMNS = ["file", "face", "x1", "y1", "x2", "y2", "score", "detector", "label", "confidence"]


def face_rows(report: PredictReport) -> list[dict[str, Any]]:
    """One row per face: file, face index, box, score, detector, label, confidence, ``p_<class>``, landmarks."""
    rows = []
    for image in report.images:
        for i, face in enumerate(image["faces"]):
            x1, y1, x2, y2 = face["box"]
            row = {
                "file": image["file"],
                "face": i,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "score": face["score"],
                "detector": face["detector"],
                "label": face["label"],
                "confidence": face["probabilities"][face["label"]],
            }
            row.update({f"p_{name}": p for name, p in face["probabilities"].items()})
            row["landmarks"] = json.dumps(face["landmarks"]) if face["landmarks"] is not None else ""
            rows.append(row)
    return rows


def write_tables(report: PredictReport, out: Path) -> None:
    """Write ``faces.csv`` and ``faces.json`` under ``out`` (each replaced atomically)."""
    rows = face_rows(report)
    write_csv_atomically(out / "faces.csv", rows, list(rows[0]) if rows else CSV_COLUMNS)
    write_atomically(out / "faces.json", json.dumps(report.to_dict(), indent=1))
