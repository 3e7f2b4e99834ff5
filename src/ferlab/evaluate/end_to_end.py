"""End-to-end scoring: the application's own detect → align → classify path on labelled photos.

Each labelled image file is read at its own resolution and analysed as `ferlab predict` would
(`ferlab.app.FaceAnalyzer`: the chosen detector, the crop rule, the model's crop and TTA); the
largest face found is the image's answer. A photo in which no face is found counts as wrong in
the accuracy over all images, and is left out of the accuracy over detected faces. This is the
figure for "real photos"; `ferlab.evaluate.evaluate_model` scores the dataset's own crops.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ferlab.app.analyze import FaceAnalyzer, FaceResult, load_rgb
from ferlab.data.dataset import Problem
from ferlab.errors import FerlabError
from ferlab.evaluate.balanced import balanced_accuracy, balanced_intervals, confusion_counts
from ferlab.evaluate.paired import wilson_interval

NO_FACE = "no face"
"""The predicted label of a photo in which no face was found."""


@dataclass(frozen=True)
class PhotoScore:
    """One labelled photo, analysed end to end.

    Attributes:
        file: the image file.
        true: its label (a canonical class name).
        predicted: the largest face's label, or `NO_FACE`.
        detector: what found that face (``none`` for the crop rule or ``--detector none``), or None.
        faces: how many faces were found.
        confidence: the largest face's probability of ``predicted`` (0 without a face).
    """

    file: str
    true: str
    predicted: str
    detector: str | None
    faces: int
    confidence: float

    @property
    def detected(self) -> bool:
        """Whether a face was found."""
        return self.predicted != NO_FACE


def largest_face(faces: Sequence[FaceResult]) -> FaceResult | None:
    """The face with the largest box, or None."""
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), default=None)


def score_photos(
    files: Sequence[Path], labels: Sequence[str], analyzer: FaceAnalyzer, on_file: Callable[[Path], None] | None = None
) -> tuple[list[PhotoScore], list[Problem]]:
    """Analyse each file with ``analyzer`` and keep its largest face; unreadable files are returned
    as problems (named, with the reason), never scored."""
    scores, problems = [], []
    for path, true in zip(files, labels):
        try:
            faces = analyzer.analyze(load_rgb(path))
        except FerlabError as error:
            problems.append(Problem(str(path), str(error).removeprefix(f"{path}: ")))
            continue
        finally:
            if on_file is not None:
                on_file(path)
        face = largest_face(faces)
        scores.append(
            PhotoScore(
                str(path),
                true,
                face.label if face else NO_FACE,
                face.detector if face else None,
                len(faces),
                face.confidence if face else 0.0,
            )
        )
    return scores, problems


def _rate(count: int, total: int) -> dict[str, Any]:
    """A proportion with its Wilson 95% interval (None where there is nothing to count)."""
    if total == 0:
        return {"value": None, "low": None, "high": None, "count": 0, "of": 0}
    low, high = wilson_interval(count, total)
    return {"value": count / total, "low": low, "high": high, "count": count, "of": total}


def _balanced_accuracy(scores: Sequence[PhotoScore]) -> dict[str, Any]:
    """Mean recall over the true classes (no face = wrong) with its bootstrap 95% interval."""
    names = list(dict.fromkeys([*(s.true for s in scores), *(s.predicted for s in scores)]))
    labels = np.array([names.index(s.true) for s in scores])
    predictions = np.array([names.index(s.predicted) for s in scores])
    intervals = balanced_intervals(labels, predictions, len(names))
    value = balanced_accuracy(confusion_counts(labels, predictions, len(names)))
    return {"balanced_accuracy": value, "balanced_accuracy_ci": intervals["balanced_accuracy"]}


def end_to_end_metrics(scores: Sequence[PhotoScore], classes: Sequence[str]) -> dict[str, Any]:
    """Detection rate, accuracy over all photos (no face = wrong) and over detected ones, each with
    a Wilson 95% CI; recall per true class over all photos and their mean (balanced accuracy, with a
    bootstrap 95% CI); the confusion counts (rows: true
    class, columns: the model's classes and `NO_FACE`); which detector found the faces; the photos
    with more than one face and the boxes past the first (on photos of one person each, every such
    box is a false positive of the detector)."""
    if not scores:
        raise FerlabError("no photo could be scored")
    detected = [s for s in scores if s.detected]
    correct = [s for s in detected if s.predicted == s.true]
    columns = [*dict.fromkeys([*classes, *(s.predicted for s in scores if s.predicted != NO_FACE)]), NO_FACE]
    present = sorted(
        {s.true for s in scores},
        key=lambda name: (name not in columns, columns.index(name) if name in columns else 0, name),
    )
    confusion = {
        true: {column: sum(s.true == true and s.predicted == column for s in scores) for column in columns}
        for true in present
    }
    return {
        "n_images": len(scores),
        "detection_rate": _rate(len(detected), len(scores)),
        "accuracy_all": _rate(len(correct), len(scores)),
        "accuracy_detected": _rate(len(correct), len(detected)),
        "recall_per_class": {
            true: _rate(row[true] if true in row else 0, sum(row.values())) for true, row in confusion.items()
        },
        **_balanced_accuracy(scores),
        "confusion": confusion,
        "several_faces": _rate(sum(s.faces > 1 for s in scores), len(scores)),
        "extra_faces": sum(max(0, s.faces - 1) for s in scores),
        "found_by": {
            name: sum(s.detector == name for s in detected) for name in dict.fromkeys(s.detector for s in detected)
        },
    }


def write_predictions(scores: Sequence[PhotoScore], path: Path) -> None:
    """One CSV row per photo: file, true, predicted, detector, faces, confidence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(PhotoScore.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(asdict(score) for score in scores)
