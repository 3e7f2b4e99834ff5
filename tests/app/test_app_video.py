"""Video analysis: the IoU tracker, `analyze_video` on a synthetic clip and `ferlab video`.

The clip (10 fps, 640x480): 12 frames of the astronaut photo drifting right and down, then
3 frames of the coffee cup (no face).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
import torch
from skimage import data
from typer.testing import CliRunner

from ferlab.app import FaceAnalyzer
from ferlab.app.timeline_plot import (
    BOTTOM,
    GAP,
    LEFT,
    NO_FACE,
    RIGHT,
    ROW_HEIGHT,
    SHARE_HEIGHT,
    TOP,
    WIDTH,
    label_colors,
    timeline_image,
)
from ferlab.app.tracking import IoUTracker
from ferlab.app.video import VideoReport, analyze_video
from ferlab.cli import app, main
from ferlab.errors import FerlabError

FACE_FRAMES, EMPTY_FRAMES, FPS = 12, 3, 10.0
FRAMES = FACE_FRAMES + EMPTY_FRAMES
OUTPUTS = ("annotated.mp4", "timeline.csv", "timeline.json", "timeline.png", "summary.json")


@pytest.fixture(scope="module", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """One-face batches gain nothing from threads, and on a busy 2-core machine two threads are 40x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (640, 480))
    photo = cv2.cvtColor(cv2.resize(data.astronaut(), (400, 400)), cv2.COLOR_RGB2BGR)
    for i in range(FACE_FRAMES):
        frame = np.full((480, 640, 3), 40, np.uint8)
        x, y = 20 + 8 * i, 40 + 2 * i
        frame[y : y + 400, x : x + 400] = photo
        writer.write(frame)
    coffee = cv2.cvtColor(cv2.resize(data.coffee(), (640, 480)), cv2.COLOR_RGB2BGR)
    for _ in range(EMPTY_FRAMES):
        writer.write(coffee)
    writer.release()
    return path


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture(scope="module")
def full_run(clip: Path, analyzer: FaceAnalyzer, tmp_path_factory: pytest.TempPathFactory) -> VideoReport:
    """Every frame analysed, outputs written."""
    return analyze_video(clip, analyzer, tmp_path_factory.mktemp("full") / "out")


# The tracker alone


def test_tracker_keeps_ids_of_two_faces_crossing_far_apart() -> None:
    tracker = IoUTracker(iou_threshold=0.3)
    ids = []
    for step in range(10):  # one face moves right at the top, the other left at the bottom
        top, bottom = (10 + 20 * step, 0, 110 + 20 * step, 100), (300 - 20 * step, 300, 400 - 20 * step, 400)
        boxes = [top, bottom] if step % 2 else [bottom, top]  # detection order changes between frames
        frame_ids = tracker.update(boxes)
        ids.append(frame_ids if step % 2 else frame_ids[::-1])
    assert ids == [ids[0]] * 10 and sorted(ids[0]) == [0, 1]


def test_tracker_matches_highest_iou_first_and_starts_new_tracks() -> None:
    tracker = IoUTracker(iou_threshold=0.3)
    assert tracker.update([(0, 0, 100, 100), (90, 0, 190, 100)]) == [0, 1]
    # the first box overlaps both tracks, track 1 most; the second box then takes track 0
    assert tracker.update([(60, 0, 160, 100), (0, 0, 90, 100)]) == [1, 0]
    assert tracker.update([(500, 500, 600, 600)]) == [2]
    assert tracker.update([]) == []


def test_face_missing_longer_than_max_missed_gets_a_new_id() -> None:
    tracker = IoUTracker(max_missed=2)
    face = (0, 0, 100, 100)
    assert tracker.update([face]) == [0]
    for _ in range(2):
        tracker.update([])
    assert tracker.update([face]) == [0]  # missed 2 frames: still tracked
    for _ in range(3):
        tracker.update([])
    assert tracker.update([face]) == [1]  # missed 3 frames: a new face


# analyze_video


def test_timeline_has_one_row_per_frame_and_one_stable_face_id(full_run: VideoReport, analyzer: FaceAnalyzer) -> None:
    timeline = pd.DataFrame(full_run.timeline, columns=full_run.columns).astype({"face_id": "Int64"})
    classes = list(analyzer.classifier.classes)
    assert all(list(row) == full_run.columns for row in full_run.timeline)
    assert timeline.columns.tolist() == [
        "frame",
        "time_s",
        "face_id",
        "x1",
        "y1",
        "x2",
        "y2",
        "label",
        "confidence",
        *(f"p_{name}" for name in classes),
    ]
    assert timeline["frame"].tolist() == list(range(FRAMES))
    assert np.allclose(timeline["time_s"], timeline["frame"] / FPS)
    faces, empty = timeline.iloc[:FACE_FRAMES], timeline.iloc[FACE_FRAMES:]
    assert faces["face_id"].nunique() == 1 and faces["face_id"].notna().all()
    assert faces["x1"].is_monotonic_increasing  # the face drifts right
    assert faces["label"].isin(classes).all()
    assert np.allclose(faces[[f"p_{name}" for name in classes]].sum(axis=1), 1, atol=1e-3)
    assert empty["face_id"].isna().all() and empty["label"].isna().all() and empty["confidence"].isna().all()
    assert (full_run.frames_processed, full_run.fps, full_run.clock, full_run.interrupted) == (
        FRAMES,
        FPS,
        "video",
        False,
    )


def test_every_output_is_written_and_reads_back(full_run: VideoReport, analyzer: FaceAnalyzer) -> None:
    out = full_run.out
    assert all((out / name).stat().st_size > 0 for name in OUTPUTS)
    csv = pd.read_csv(out / "timeline.csv")
    assert len(csv) == FRAMES and csv["label"].isna().sum() == EMPTY_FRAMES
    records = json.loads((out / "timeline.json").read_text())
    assert len(records) == FRAMES and records[-1]["face_id"] is None and records[0]["face_id"] is not None
    assert (out / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    video = cv2.VideoCapture(str(out / "annotated.mp4"))
    frames = 0
    while video.read()[0]:
        frames += 1
    assert frames == FRAMES and video.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    video.release()

    summary = json.loads((out / "summary.json").read_text())
    assert (summary["frames_processed"], summary["frames_with_faces"]) == (FRAMES, FACE_FRAMES)
    assert summary["processing_fps"] > 0 and not summary["interrupted"]
    ((face_id, face),) = summary["faces"].items()
    assert face_id == str(full_run.timeline[0]["face_id"])
    assert face["dominant"] in analyzer.classifier.classes and face["frames"] == FACE_FRAMES
    assert (face["first_s"], face["last_s"]) == (0.0, pytest.approx((FACE_FRAMES - 1) / FPS))
    assert sum(face["share"].values()) == pytest.approx(1) and sum(summary["emotion_share"].values()) == pytest.approx(
        1
    )


@pytest.mark.parametrize(
    ("every", "max_frames", "frames"), [(2, None, list(range(0, FRAMES, 2))), (3, 4, [0, 3, 6, 9])]
)
def test_every_and_max_frames_choose_the_frames(
    clip: Path, analyzer: FaceAnalyzer, tmp_path: Path, every: int, max_frames: int | None, frames: list[int]
) -> None:
    progress = []
    report = analyze_video(
        clip,
        analyzer,
        None,
        every=every,
        max_frames=max_frames,
        on_frame=lambda done, total: progress.append((done, total)),
    )
    assert [row["frame"] for row in report.timeline] == frames and report.frames_processed == len(frames)
    assert progress == [(done, len(frames)) for done in range(1, len(frames) + 1)]
    assert np.allclose([row["time_s"] for row in report.timeline], np.array(frames) / FPS)
    assert report.summary["every"] == every and report.out is None


def test_ctrl_c_stops_and_still_writes_what_was_gathered(clip: Path, analyzer: FaceAnalyzer, tmp_path: Path) -> None:
    def stop_after_three(done: int, total: int | None) -> None:
        if done == 3:
            raise KeyboardInterrupt

    report = analyze_video(clip, analyzer, tmp_path, on_frame=stop_after_three)
    assert report.interrupted and [row["frame"] for row in report.timeline] == [0, 1, 2]
    assert all((tmp_path / name).stat().st_size > 0 for name in OUTPUTS)
    assert json.loads((tmp_path / "summary.json").read_text())["interrupted"] is True


def test_timeline_picture_shows_shares_face_rows_and_legend() -> None:
    """Frames 0-4 happy (face #7), 5-9 without a face: the share panel is happy then 'no face'."""
    timeline = [
        {"frame": f, "time_s": f / 10, "face_id": 7 if f < 5 else None, "label": "happy" if f < 5 else None}
        for f in range(10)
    ]
    image = timeline_image(timeline, ["happy", "sad"], title="clip")
    colors = label_colors(["happy", "sad"])
    middle = TOP + SHARE_HEIGHT // 2
    x_of = lambda t: LEFT + round(t / 1.0 * (WIDTH - LEFT - RIGHT))  # noqa: E731  (span: 10 frames of 0.1 s)
    assert tuple(image[middle, x_of(0.2)]) == colors["happy"]
    assert tuple(image[middle, x_of(0.75)]) == colors[NO_FACE]
    row_y = TOP + SHARE_HEIGHT + GAP + ROW_HEIGHT // 2
    assert tuple(image[row_y, x_of(0.2)]) == colors["happy"]  # face #7's mark at 0.2 s
    assert tuple(image[row_y, x_of(0.7) - 3]) != colors["happy"]  # no mark once the face is gone
    assert image.shape == (TOP + SHARE_HEIGHT + GAP + ROW_HEIGHT + BOTTOM, WIDTH, 3)


def test_bad_sampling_is_refused(clip: Path, analyzer: FaceAnalyzer) -> None:
    with pytest.raises(FerlabError, match="every must be at least 1, got 0"):
        analyze_video(clip, analyzer, None, every=0)


# ferlab video


def test_cli_writes_the_outputs_into_the_default_folder(
    clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["video", str(clip), "--every", "4"])
    assert result.exit_code == 0, result.output
    out = tmp_path / "video_clip"
    assert all((out / name).stat().st_size > 0 for name in OUTPUTS)
    assert len(pd.read_csv(out / "timeline.csv")) == 4
    assert "#0" in result.output and "4 frames analysed (3 with a face)" in result.output
    assert "video_clip" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.mp4"], "missing.mp4: no such file"),
        (["notes.mp4"], "notes.mp4: not a video OpenCV can read"),
        (["--webcam", "99"], "webcam 99: cannot be opened"),
        ([], "give a video FILE or --webcam N"),
        (["notes.mp4", "--webcam", "0"], "give a video FILE or --webcam N"),
        (["notes.mp4", "--every", "0"], "every must be at least 1"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_code_2(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("notes.mp4").write_text("a text file, not a video\n")
    with pytest.raises(SystemExit) as exited:
        main(["video", *args])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and message in error and "Traceback" not in error
    assert not any(tmp_path.glob("video_*"))


def test_cli_search_every_must_be_positive(clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["video", str(clip), "--search-every", "0", "--out", str(tmp_path / "out")])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "(--search-every) must be at least 1, got 0" in error
