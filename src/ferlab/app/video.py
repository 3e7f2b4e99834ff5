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
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ferlab.app.analyze import FaceAnalyzer, FaceResult
from ferlab.app.draw import annotate, save_rgb
from ferlab.app.timeline_plot import timeline_image
from ferlab.app.tracking import IoUTracker
from ferlab.atomic import write_atomically, write_csv_atomically
from ferlab.errors import FerlabError

# FFmpeg's own log lines ("moov atom not found") would precede our one-line error.
os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")

FALLBACK_FPS = 25.0
"""Frame rate of ``annotated.mp4`` when the source reports none."""
TIMELINE_COLUMNS = ("frame", "time_s", "face_id", "x1", "y1", "x2", "y2", "label", "confidence")
"""The timeline's leading columns; ``p_<class>`` columns follow, one per class."""


@dataclass
class VideoReport:
    """What a video job did.

    timeline: one row (a dict keyed by `columns`) per (analysed frame, face): ``frame, time_s,
        face_id, x1, y1, x2, y2, label, confidence, p_<class>...``; a frame without a face has
        one row whose other values are None.
    fps: the source's frame rate, None when it reports none.
    clock: ``video`` (time = frame index / fps) or ``wall`` (seconds since the start: webcams).
    """

    source: str
    classes: list[str]
    timeline: list[dict[str, Any]]
    fps: float | None
    clock: str
    every: int
    frames_processed: int
    seconds: float
    interrupted: bool = False
    out: Path | None = None

    @property
    def processing_fps(self) -> float:
        """Analysed frames per second of processing."""
        return self.frames_processed / self.seconds if self.seconds > 0 else 0.0

    @property
    def columns(self) -> list[str]:
        """The timeline's columns, in order."""
        return [*TIMELINE_COLUMNS, *(f"p_{name}" for name in self.classes)]

    @cached_property
    def summary(self) -> dict[str, Any]:
        """Per face id: first/last time, frames seen, dominant expression, share of each;
        overall share of each expression; frame counts and processing speed."""
        faces = [row for row in self.timeline if row["face_id"] is not None]
        per_face = {}
        for face_id in sorted({row["face_id"] for row in faces}):
            rows = [row for row in faces if row["face_id"] == face_id]
            share = self._share([row["label"] for row in rows])
            times = [row["time_s"] for row in rows]
            per_face[str(face_id)] = {
                "first_s": min(times),
                "last_s": max(times),
                "frames": len(rows),
                "dominant": max(share, key=share.get),
                "share": share,
            }
        return {
            "source": self.source,
            "fps": self.fps,
            "clock": self.clock,
            "every": self.every,
            "frames_processed": self.frames_processed,
            "frames_with_faces": len({row["frame"] for row in faces}),
            "seconds": round(self.seconds, 3),
            "processing_fps": round(self.processing_fps, 2),
            "interrupted": self.interrupted,
            "emotion_share": self._share([row["label"] for row in faces]),
            "faces": per_face,
        }

    def _share(self, labels: list[str]) -> dict[str, float]:
        counts = Counter(labels)
        return {name: round(counts[name] / len(labels), 4) if labels else 0.0 for name in self.classes}


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


def check_sampling(every: int, max_frames: int | None) -> None:
    """`FerlabError` unless ``every`` and ``max_frames`` (when given) are at least 1."""
    for name, value in (("every", every), ("max_frames", max_frames)):
        if value is not None and value < 1:
            raise FerlabError(f"{name} must be at least 1, got {value}")


def analyze_video(
    source: Path | int,
    analyzer: FaceAnalyzer,
    out: Path | None,
    every: int = 1,
    max_frames: int | None = None,
    on_frame: Callable[[int, int | None], None] | None = None,
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
        raise FerlabError(
            f"{name}: "
            + (
                "interrupted before the first frame"
                if interrupted
                else "no frame could be read (not a video, or an unsupported codec)"
            )
        )
    columns = [*TIMELINE_COLUMNS, *(f"p_{c}" for c in classes)]
    timeline = [{column: row.get(column) for column in columns} for row in rows]
    report = VideoReport(
        source=name,
        classes=classes,
        timeline=timeline,
        fps=fps,
        clock="wall" if live or not fps else "video",
        every=every,
        frames_processed=done,
        seconds=time.perf_counter() - start,
        interrupted=interrupted,
        out=out,
    )
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
        rows.append(
            {
                "face_id": face_id,
                "x1": x1,
                "y1": y1,
                "x2": x2,
                "y2": y2,
                "label": face.label,
                "confidence": record["probabilities"][face.label],
                **{f"p_{name}": p for name, p in record["probabilities"].items()},
            }
        )
    return [{"frame": index, "time_s": round(seconds, 3), **row} for row in rows or [{}]]


def write_outputs(report: VideoReport, out: Path) -> None:
    """Write ``timeline.csv``, ``timeline.json``, ``timeline.png`` and ``summary.json`` under ``out``."""
    write_csv_atomically(out / "timeline.csv", report.timeline, report.columns)
    write_atomically(out / "timeline.json", json.dumps(report.timeline, indent=1))
    save_rgb(
        out / "timeline.png",
        timeline_image(
            report.timeline,
            report.classes,
            title=f"{report.source}: expressions over time",
            wall_clock=report.clock == "wall",
        ),
    )
    write_atomically(out / "summary.json", json.dumps(report.summary, indent=1))
