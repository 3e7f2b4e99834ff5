"""Scoring a face detector on photos annotated in WIDER FACE's format (torch-free).

The folder holds ``WIDER_val/images/<event>/<photo>.jpg`` and
``wider_face_split/wider_face_val_bbx_gt.txt`` (Yang et al., "WIDER FACE: A Face Detection
Benchmark", CVPR 2016): per photo its path, its box count, then one line per box
``x y w h blur expression illumination invalid occlusion pose`` (a photo with no face has one
all-zero line).

The rules, per photo:

- A face counts in a size band when it is not flagged invalid and is at least that many
  pixels high and wide (bands 40 and 80 px by default).
- Detections, surest first, each take the not-yet-taken valid face they overlap most, at IoU
  of at least ``iou``. A face is found when a detection took it (recall by band).
- A false box overlaps no ground-truth box at all (any size, invalid ones too).
- Average precision over the smallest band: a detection that took a face of that band is a
  true positive, a false box is a false positive, the others (boxes on smaller or invalid faces,
  duplicates, loose boxes on a face) are left out; non-interpolated, as
  ``sklearn.metrics.average_precision_score`` computes it, with every face of the band counted
  as a positive.
"""

from __future__ import annotations

import csv
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ferlab.app.analyze import load_rgb
from ferlab.data.dataset import Problem
from ferlab.errors import FerlabError
from ferlab.faces.base import Detector
from ferlab.faces.boxes import box_iou

GROUND_TRUTH = Path("wider_face_split") / "wider_face_val_bbx_gt.txt"
IMAGES = Path("WIDER_val") / "images"
BANDS = (40, 80)
"""Face-size bands scored by default: faces at least this many pixels high and wide."""


@dataclass(frozen=True, eq=False)
class AnnotatedPhoto:
    """One photo's ground truth: ``boxes`` (N, 4) ``(x1, y1, x2, y2)`` pixels and their ``invalid`` flags."""

    file: str
    boxes: np.ndarray
    invalid: np.ndarray


def read_wider(root: Path) -> list[AnnotatedPhoto]:
    """The photos listed by ``root``'s WIDER FACE ground-truth file; `FerlabError` naming the file
    and line when it is missing or malformed."""
    path = Path(root) / GROUND_TRUTH
    try:
        text = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or error
        raise FerlabError(f"{path}: cannot read the WIDER FACE ground truth ({reason})") from None
    photos, i = [], 0
    while i < len(text):
        if not text[i].strip():
            i += 1
            continue
        file = text[i].strip()
        count = _number(text, i + 1, path)
        rows = [_box_line(text, j, path) for j in range(i + 2, i + 2 + max(count, 1))]
        table = np.array(rows[:count] if count else [], dtype=np.float64).reshape(-1, 10)
        boxes = np.concatenate([table[:, :2], table[:, :2] + table[:, 2:4]], axis=1)
        photos.append(AnnotatedPhoto(file, boxes, table[:, 7] > 0))
        i += 2 + max(count, 1)
    if not photos:
        raise FerlabError(f"{path}: no photo listed")
    return photos


def _number(text: list[str], i: int, path: Path) -> int:
    try:
        return int(text[i])
    except (IndexError, ValueError):
        raise FerlabError(f"{path}, line {i + 1}: expected the photo's box count") from None


def _box_line(text: list[str], i: int, path: Path) -> list[float]:
    fields = text[i].split() if i < len(text) else []
    try:
        values = [float(v) for v in fields]
    except ValueError:
        values = []
    if len(values) != 10:
        raise FerlabError(f"{path}, line {i + 1}: expected 10 numbers (x y w h blur expression illumination invalid …)")
    return values


@dataclass
class PhotoResult:
    """One photo's score: per band its faces and the ones found, the boxes, the false ones, the time."""

    file: str
    faces: dict[int, int]
    found: dict[int, int]
    boxes: int
    false_boxes: int
    ms: float
    scores: np.ndarray = field(repr=False)
    """Scores of the detections that count for AP."""
    hits: np.ndarray = field(repr=False)
    """Whether each of those took a face of the smallest band (else it is a false box)."""

    def row(self) -> dict[str, object]:
        """The photo's CSV row."""
        row: dict[str, object] = {"file": self.file}
        for band in self.faces:
            row[f"faces_{band}"] = self.faces[band]
            row[f"found_{band}"] = self.found[band]
        row.update(boxes=self.boxes, false_boxes=self.false_boxes, ms=round(self.ms, 2))
        return row


def score_photo(
    photo: AnnotatedPhoto,
    boxes: np.ndarray,
    scores: np.ndarray,
    bands: tuple[int, ...] = BANDS,
    iou: float = 0.5,
    ms: float = 0.0,
) -> PhotoResult:
    """Score one photo's detections (``boxes`` (M, 4) ``x1 y1 x2 y2``, ``scores`` (M,)) by the module's rules."""
    boxes, scores = np.asarray(boxes, np.float64).reshape(-1, 4), np.asarray(scores, np.float64).reshape(-1)
    overlap = box_iou(boxes, photo.boxes)
    side = np.minimum(*(photo.boxes[:, 2:] - photo.boxes[:, :2]).T) if len(photo.boxes) else np.empty(0)
    taken = np.full(len(photo.boxes), False)
    status = np.zeros(len(boxes), np.int8)  # 1: took a face of the smallest band, -1: false box, 0: left out
    for d in np.argsort(-scores, kind="stable"):
        free = np.where(taken | photo.invalid, -1.0, overlap[d])
        best = int(np.argmax(free)) if len(free) else -1
        if best >= 0 and free[best] >= iou:
            taken[best] = True
            status[d] = 1 if side[best] >= bands[0] else 0
        elif not len(photo.boxes) or overlap[d].max() <= 0:
            status[d] = -1
    faces = {band: int(np.sum((side >= band) & ~photo.invalid)) for band in bands}
    found = {band: int(np.sum((side >= band) & ~photo.invalid & taken)) for band in bands}
    counted = status != 0
    return PhotoResult(
        photo.file, faces, found, len(boxes), int(np.sum(status == -1)), ms, scores[counted], status[counted] == 1
    )


def average_precision(scores: np.ndarray, hits: np.ndarray, positives: int) -> float:
    """Non-interpolated AP of ranked detections (``hits``: true positive or not) against ``positives``
    faces: the mean, over the faces, of the precision at the rank where each is found (0 if never)."""
    if positives == 0:
        return float("nan")
    if len(hits) == 0:  # no detection: no face found
        return 0.0
    order = np.argsort(-np.asarray(scores), kind="stable")
    hits, ranked = np.asarray(hits, bool)[order], np.asarray(scores)[order]
    true_positives = np.cumsum(hits)
    # Ties share one threshold: the precision at the last detection of each tied score.
    last = np.r_[ranked[1:] != ranked[:-1], True]
    precision = true_positives / np.arange(1, len(hits) + 1)
    gained = np.diff(np.r_[0, true_positives[last]])
    return float(np.sum(gained * precision[last]) / positives)


@dataclass
class DetectorScore:
    """A detector's score over a folder: totals, AP and the per-photo results."""

    detector: str
    photos: list[PhotoResult]
    problems: list[Problem]
    bands: tuple[int, ...]

    def summary(self) -> dict[str, float | int | str]:
        """Photos, faces and recall per band, AP, false boxes per photo, share of boxes false, ms per photo."""
        n = max(len(self.photos), 1)
        boxes = sum(p.boxes for p in self.photos)
        out: dict[str, float | int | str] = {"detector": self.detector, "photos": len(self.photos)}
        for band in self.bands:
            faces = sum(p.faces[band] for p in self.photos)
            out[f"faces_{band}"] = faces
            out[f"recall_{band}"] = sum(p.found[band] for p in self.photos) / faces if faces else float("nan")
        scores = np.concatenate([p.scores for p in self.photos]) if self.photos else np.empty(0)
        hits = np.concatenate([p.hits for p in self.photos]) if self.photos else np.empty(0, bool)
        out[f"ap_{self.bands[0]}"] = average_precision(scores, hits, int(out[f"faces_{self.bands[0]}"]))
        false = sum(p.false_boxes for p in self.photos)
        out["false_per_photo"] = false / n
        out["false_share"] = false / boxes if boxes else 0.0
        out["ms_per_photo"] = sum(p.ms for p in self.photos) / n
        return out

    def write_csv(self, path: Path) -> None:
        """One row per photo (see `PhotoResult.row`)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [p.row() for p in self.photos]
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]) if rows else ["file"])
            writer.writeheader()
            writer.writerows(rows)


def score_detector(
    detector: Detector,
    root: Path,
    name: str,
    bands: tuple[int, ...] = BANDS,
    iou: float = 0.5,
    limit: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
    on_photo: Callable[[], None] | None = None,
    every: int = 1,
    start: int = 0,
) -> DetectorScore:
    """Run ``detector`` on the photos of the WIDER FACE-format folder ``root`` that `listed_photos`
    picks and score it; a photo that cannot be read is listed in ``problems``, the others are scored."""
    photos = listed_photos(root, limit, every, start)
    results, problems = [], []
    for photo, rgb in _images(root, photos, problems):
        start = clock()
        faces = detector.detect(rgb)
        ms = (clock() - start) * 1000
        boxes = np.array([f.box for f in faces], np.float64).reshape(-1, 4)
        results.append(score_photo(photo, boxes, np.array([f.score for f in faces]), bands, iou, ms))
        if on_photo is not None:
            on_photo()
    return DetectorScore(name, results, problems, tuple(bands))


def listed_photos(root: Path, limit: int | None = None, every: int = 1, start: int = 0) -> list[AnnotatedPhoto]:
    """The photos of ``root`` to score: every ``every``-th of its ground-truth list from position ``start``
    (0-based), then the first ``limit`` of those. ``every=2`` with ``start`` 0 and then 1 splits a folder into
    two interleaved halves, each with photos of every event: one to choose a setting on, one to report."""
    if every < 1 or not 0 <= start < every:
        raise FerlabError(
            f"photo selection: expected every >= 1 and 0 <= start < every, got every={every}, start={start}"
        )
    return read_wider(root)[start::every][:limit]


def _images(
    root: Path, photos: list[AnnotatedPhoto], problems: list[Problem]
) -> Iterator[tuple[AnnotatedPhoto, np.ndarray]]:
    for photo in photos:
        try:
            yield photo, load_rgb(Path(root) / IMAGES / photo.file)
        except FerlabError as error:
            problems.append(Problem(str(Path(root) / IMAGES / photo.file), str(error).split(": ", 1)[-1]))


def summary_fields(score: DetectorScore) -> dict[str, str]:
    """The summary as printed: percentages, two decimals, one for milliseconds."""
    shown = {}
    for key, value in score.summary().items():
        if isinstance(value, float) and np.isnan(value):
            shown[key] = "n/a (no face)"
        elif key.startswith(("recall_", "ap_", "false_share")):
            shown[key] = f"{100 * value:.1f}%"
        elif key == "false_per_photo":
            shown[key] = f"{value:.2f}"
        elif key == "ms_per_photo":
            shown[key] = f"{value:.1f}"
        else:
            shown[key] = str(value)
    return shown


__all__ = [
    "BANDS",
    "AnnotatedPhoto",
    "DetectorScore",
    "PhotoResult",
    "average_precision",
    "listed_photos",
    "read_wider",
    "score_detector",
    "score_photo",
    "summary_fields",
]
