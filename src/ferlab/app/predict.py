"""The `ferlab predict` job: every face in a photo or a folder of photos, written to disk.

Outputs under ``out``: ``annotated/<relative path>`` (boxes and labels drawn),
``faces.csv`` and ``faces.json`` (one record per face: file, box, landmarks, label, every
probability), and with ``save_crops`` ``crops/<label>/<file>_face<i>.png`` (colour crops
for people to review later). An unreadable file is reported in ``faces.json`` under
``errors`` and skipped; the other files are still processed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import pandas as pd

from ferlab.app.analyze import CROP_MARGIN, FaceAnalyzer, FaceResult, load_rgb
from ferlab.app.draw import annotate, save_rgb
from ferlab.data.dataset import Problem
from ferlab.data.images import IMAGE_SUFFIXES
from ferlab.errors import FerlabError
from ferlab.faces import align_face

REVIEW_CROP_MAX = 256
"""Largest side of a saved review crop, in pixels."""


@dataclass
class PredictReport:
    """What a predict job did: one record per image, the problems, where it wrote."""

    images: list[dict[str, Any]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    out: Optional[Path] = None

    @property
    def faces(self) -> int:
        """Faces found in all images."""
        return sum(len(image["faces"]) for image in self.images)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``images`` (file, size, faces) and ``errors`` (file, error)."""
        return {"images": self.images, "errors": [{"file": p.path, "error": p.reason} for p in self.problems]}


def image_files(source: Path) -> tuple[Path, list[Path]]:
    """``(root, files)``: the image itself, or every image file under a folder (sorted, recursive)."""
    if source.is_file():
        return source.parent, [source]
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise FerlabError(f"{source}: no image files in this folder ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return source, files
    raise FerlabError(f"{source}: no such file or folder")


def review_crop(rgb: np.ndarray, face: FaceResult, margin: float = CROP_MARGIN) -> np.ndarray:
    """An RGB crop of the face (aligned, with margin) at about its native resolution."""
    x1, y1, x2, y2 = face.box
    side = int(min(REVIEW_CROP_MAX, max(48, round(max(x2 - x1, y2 - y1) * (1 + 2 * margin)))))
    return align_face(rgb, face.as_face(), (side, side), grayscale=False, margin=margin)


def predict_images(
    source: Path,
    analyzer: FaceAnalyzer,
    out: Optional[Path],
    save_crops: bool = False,
    on_file: Optional[Callable[[Path], None]] = None,
) -> PredictReport:
    """Analyse ``source`` (an image or a folder); write the outputs under ``out`` unless it is None.

    ``on_file`` is called after each file (for progress bars).
    """
    root, files = image_files(source)
    return predict_files(root, files, analyzer, out, save_crops, on_file)


def predict_files(
    root: Path,
    files: list[Path],
    analyzer: FaceAnalyzer,
    out: Optional[Path],
    save_crops: bool = False,
    on_file: Optional[Callable[[Path], None]] = None,
) -> PredictReport:
    """`predict_images` on files already listed by `image_files` (paths relative to ``root`` name the outputs)."""
    report = PredictReport(out=out)
    for path in files:
        relative = path.relative_to(root)
        try:
            rgb = load_rgb(path)
        except FerlabError as error:
            report.problems.append(Problem(str(path), str(error).removeprefix(f"{path}: ")))
        else:
            faces = analyzer.analyze(rgb)
            report.images.append({"file": relative.as_posix(), "width": rgb.shape[1], "height": rgb.shape[0],
                                  "faces": [face.to_dict() for face in faces]})
            if out is not None:
                _write_image_outputs(out, relative, rgb, faces, save_crops)
        if on_file is not None:
            on_file(path)
    if out is not None:
        write_tables(report, out)
    return report


def _write_image_outputs(out: Path, relative: Path, rgb: np.ndarray, faces: list[FaceResult], save_crops: bool) -> None:
    save_rgb(out / "annotated" / relative.with_suffix(".png"), annotate(rgb, faces))
    if save_crops:
        stem = "__".join(relative.with_suffix("").parts)
        for i, face in enumerate(faces):
            save_rgb(out / "crops" / face.label / f"{stem}_face{i}.png", review_crop(rgb, face))


def face_rows(report: PredictReport) -> pd.DataFrame:
    """One row per face: file, face index, box, score, label, confidence, ``p_<class>`` columns, landmarks."""
    rows = []
    for image in report.images:
        for i, face in enumerate(image["faces"]):
            x1, y1, x2, y2 = face["box"]
            row = {"file": image["file"], "face": i, "x1": x1, "y1": y1, "x2": x2, "y2": y2, "score": face["score"],
                   "label": face["label"], "confidence": face["probabilities"][face["label"]]}
            row.update({f"p_{name}": p for name, p in face["probabilities"].items()})
            row["landmarks"] = json.dumps(face["landmarks"]) if face["landmarks"] is not None else ""
            rows.append(row)
    return pd.DataFrame(rows, columns=None if rows else ["file", "face", "x1", "y1", "x2", "y2", "score", "label"])


def write_tables(report: PredictReport, out: Path) -> None:
    """Write ``faces.csv`` and ``faces.json`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    face_rows(report).to_csv(out / "faces.csv", index=False)
    (out / "faces.json").write_text(json.dumps(report.to_dict(), indent=1))
