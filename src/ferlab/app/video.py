"""The `ferlab video` job: faces, ids and expressions over time in a video file or a webcam stream.

Every ``every``-th frame is analysed; faces keep an id from frame to frame (`IoUTracker`).
Outputs under ``out``: ``annotated.mp4`` (the analysed frames with boxes, ``#id`` and
labels), ``timeline.csv`` and ``timeline.json`` (one row per analysed frame and face, a row
with empty ``face_id`` and ``label`` for a frame without a face), ``timeline.png`` (the
share of each expression over time and each face's expression over time) and
``summary.json`` (per face id and overall). Ctrl+C stops the run; what was gathered so far
is still written and `VideoReport.interrupted` is set.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import cv2
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ferlab.app.analyze import FaceAnalyzer, FaceResult
from ferlab.app.draw import COLORS, annotate
from ferlab.app.tracking import IoUTracker
from ferlab.errors import FerlabError

# FFmpeg's own log lines ("moov atom not found") would precede our one-line error.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

FALLBACK_FPS = 25.0
"""Frame rate of ``annotated.mp4`` when the source reports none."""
PLOT_BINS = 60
"""Time bins of the expression-share plot (consecutive analysed frames are pooled)."""
NO_FACE = "no face"


@dataclass
class VideoReport:
    """What a video job did.

    timeline: one row per (analysed frame, face): ``frame, time_s, face_id, x1, y1, x2, y2,
        label, confidence, p_<class>...``; a frame without a face has one row with empty
        ``face_id`` and ``label``.
    fps: the source's frame rate, None when it reports none.
    clock: ``video`` (time = frame index / fps) or ``wall`` (seconds since the start: webcams).
    """

    source: str
    classes: list[str]
    timeline: pd.DataFrame
    fps: Optional[float]
    clock: str
    every: int
    frames_processed: int
    seconds: float
    interrupted: bool = False
    out: Optional[Path] = None

    @property
    def processing_fps(self) -> float:
        """Analysed frames per second of processing."""
        return self.frames_processed / self.seconds if self.seconds > 0 else 0.0

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Per face id: first/last time, frames seen, dominant expression, share of each;
        overall share of each expression; frame counts and processing speed."""
        faces = self.timeline.dropna(subset=["face_id"])
        per_face = {}
        for face_id, rows in faces.groupby("face_id"):
            share = self._share(rows["label"])
            per_face[str(face_id)] = {
                "first_s": float(rows["time_s"].min()), "last_s": float(rows["time_s"].max()), "frames": len(rows),
                "dominant": max(share, key=share.get), "share": share,
            }
        return {
            "source": self.source, "fps": self.fps, "clock": self.clock, "every": self.every,
            "frames_processed": self.frames_processed, "frames_with_faces": int(faces["frame"].nunique()),
            "seconds": round(self.seconds, 3), "processing_fps": round(self.processing_fps, 2),
            "interrupted": self.interrupted, "emotion_share": self._share(faces["label"]), "faces": per_face,
        }

    def _share(self, labels: pd.Series) -> dict[str, float]:
        share = labels.value_counts(normalize=True).reindex(self.classes, fill_value=0.0)
        return {name: round(float(p), 4) for name, p in share.items()}


def open_video(source: Path | int) -> cv2.VideoCapture:
    """An opened capture of a video file or a webcam index; `FerlabError` naming it when impossible."""
    if isinstance(source, int):
        level = cv2.utils.logging.getLogLevel()
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
        try:
            capture = cv2.VideoCapture(source)
        finally:
            cv2.utils.logging.setLogLevel(level)
        if not capture.isOpened():
            raise FerlabError(f"webcam {source}: cannot be opened (no such camera, or it is busy)")
        return capture
    if not Path(source).is_file():
        raise FerlabError(f"{source}: no such file")
    capture = cv2.VideoCapture(str(source))
    if not capture.isOpened():
        raise FerlabError(f"{source}: not a video OpenCV can read (unknown format or damaged file)")
    return capture


def check_sampling(every: int, max_frames: Optional[int]) -> None:
    """`FerlabError` unless ``every`` and ``max_frames`` (when given) are at least 1."""
    for name, value in (("every", every), ("max_frames", max_frames)):
        if value is not None and value < 1:
            raise FerlabError(f"{name} must be at least 1, got {value}")


def analyze_video(
    source: Path | int,
    analyzer: FaceAnalyzer,
    out: Optional[Path],
    every: int = 1,
    max_frames: Optional[int] = None,
    on_frame: Optional[Callable[[int, Optional[int]], None]] = None,
) -> VideoReport:
    """Analyse frames 0, ``every``, 2 ``every``... of a video file or webcam (an int index).

    Stops at the end of the video, after ``max_frames`` analysed frames, or on Ctrl+C.
    ``on_frame(done, total)`` is called after each analysed frame (``total`` None when
    unknown). Outputs are written under ``out`` unless it is None.
    """
    check_sampling(every, max_frames)
    live = isinstance(source, int)
    name = f"webcam {source}" if live else str(source)
    capture = open_video(source)
    fps = capture.get(cv2.CAP_PROP_FPS)
    fps = fps if 0 < fps <= 1000 else None
    count = 0 if live else max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
    total = math.ceil(count / every) if count else None
    if max_frames is not None:
        total = min(total or max_frames, max_frames)
    classes = list(analyzer.classifier.classes)
    tracker, rows, writer, done, interrupted = IoUTracker(), [], None, 0, False
    start = time.perf_counter()
    try:
        for index, rgb in itertools.islice(_sampled_frames(capture, every), max_frames):
            seconds = index / fps if fps and not live else time.perf_counter() - start
            faces = analyzer.analyze(rgb)
            ids = tracker.update([face.box for face in faces])
            if out is not None:
                writer = writer or _video_writer(out, rgb.shape, (fps or FALLBACK_FPS) / every)
                writer.write(cv2.cvtColor(annotate(rgb, faces, [f"#{i}" for i in ids]), cv2.COLOR_RGB2BGR))
            rows.extend(_frame_rows(index, seconds, faces, ids))
            done += 1
            if on_frame is not None:
                on_frame(done, total)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        capture.release()
        if writer is not None:
            writer.release()
    if done == 0:
        raise FerlabError(f"{name}: " + ("interrupted before the first frame" if interrupted
                                         else "no frame could be read (not a video, or an unsupported codec)"))
    columns = ["frame", "time_s", "face_id", "x1", "y1", "x2", "y2", "label", "confidence"]
    timeline = pd.DataFrame(rows, columns=columns + [f"p_{c}" for c in classes]).astype({"face_id": "Int64"})
    report = VideoReport(source=name, classes=classes, timeline=timeline, fps=fps,
                         clock="wall" if live or not fps else "video", every=every, frames_processed=done,
                         seconds=time.perf_counter() - start, interrupted=interrupted, out=out)
    if out is not None:
        write_outputs(report, out)
    return report


def _sampled_frames(capture: cv2.VideoCapture, every: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, RGB frame)`` of frames 0, ``every``, 2 ``every``... (the others are skipped undecoded)."""
    index = 0
    while capture.grab():
        if index % every == 0:
            ok, bgr = capture.retrieve()
            if ok:
                yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        index += 1


def _video_writer(out: Path, shape: tuple[int, ...], fps: float) -> cv2.VideoWriter:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "annotated.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (shape[1], shape[0]))
    if not writer.isOpened():
        raise FerlabError(f"{path}: OpenCV cannot write an mp4v video here")
    return writer


def _frame_rows(index: int, seconds: float, faces: list[FaceResult], ids: list[int]) -> list[dict[str, Any]]:
    """The timeline rows of one frame: one per face, or one without a face."""
    rows = []
    for face, face_id in zip(faces, ids):
        record = face.to_dict()
        x1, y1, x2, y2 = record["box"]
        rows.append({"face_id": face_id, "x1": x1, "y1": y1, "x2": x2, "y2": y2, "label": face.label,
                     "confidence": record["probabilities"][face.label],
                     **{f"p_{name}": p for name, p in record["probabilities"].items()}})
    return [{"frame": index, "time_s": round(seconds, 3), **row} for row in rows or [{}]]


def write_outputs(report: VideoReport, out: Path) -> None:
    """Write ``timeline.csv``, ``timeline.json``, ``timeline.png`` and ``summary.json`` under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    report.timeline.to_csv(out / "timeline.csv", index=False)
    report.timeline.to_json(out / "timeline.json", orient="records", indent=1)
    timeline_figure(report).savefig(out / "timeline.png", dpi=100)
    (out / "summary.json").write_text(json.dumps(report.summary, indent=1))


def _color(name: str, i: int) -> Any:
    if name == NO_FACE:
        return (0.92, 0.92, 0.92)
    return tuple(c / 255 for c in COLORS[name]) if name in COLORS else f"C{i % 10}"


def timeline_figure(report: VideoReport) -> Figure:
    """Top: the share of each expression (and of frames without a face) over time, in up to
    `PLOT_BINS` bins of consecutive frames. Bottom: one row per face id, its expression over time."""
    timeline = report.timeline
    faces = timeline.dropna(subset=["face_id"])
    face_ids = sorted(faces["face_id"].unique())
    names = [*report.classes, NO_FACE]
    colors = {name: _color(name, i) for i, name in enumerate(names)}
    figure = Figure(figsize=(10, 4 + 0.25 * min(len(face_ids), 30)), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[2, 1 + 0.1 * min(len(face_ids), 30)])

    rank = timeline["frame"].rank(method="dense").astype(int) - 1
    bins = rank * PLOT_BINS // (rank.max() + 1)
    share = pd.crosstab(bins, timeline["label"].fillna(NO_FACE), normalize="index").reindex(columns=names,
                                                                                            fill_value=0.0)
    times = timeline.groupby(bins)["time_s"].mean()
    top.stackplot(times.to_numpy(), share.to_numpy().T, labels=names, colors=[colors[n] for n in names])
    top.set(ylabel="share", ylim=(0, 1), title=f"{report.source}: expressions over time")
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize="small")

    for row, face_id in enumerate(face_ids):
        rows = faces[faces["face_id"] == face_id]
        bottom.scatter(rows["time_s"], np.full(len(rows), row), c=[colors[label] for label in rows["label"]],
                       marker="s", s=12)
    bottom.set_yticks(range(len(face_ids)), [f"#{i}" for i in face_ids])
    bottom.set(xlabel="time (s)" + (" since start" if report.clock == "wall" else ""), ylabel="face id",
               ylim=(-0.5, max(len(face_ids), 1) - 0.5))
    return figure
