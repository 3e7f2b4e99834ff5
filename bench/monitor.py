"""Speed of `ferlab monitor` on this CPU: rows/s written, the dashboard's day view at 1 million
observations, and frames/s of a 640x480 source with the database writes.

    python bench/monitor.py [--rows 1000000] [--seconds 30] [--out /tmp/monitor-bench] [--parts dashboard]

1. Rows/s into SQLite (WAL): observations written one interval per transaction, as the monitor
   does (one row each: one face), and in batches of 10,000 (how the 1M-row database is built).
2. Dashboard latency: a SQLite file with ``--rows`` observations of one person at one per
   second (1M: 11.6 days), then the page's requests through the real app in process
   (`fastapi.testclient`): the day view (``/api/shares``, hour bins, one day) and the week
   view (day bins, in UTC and in Europe/Paris); median and maximum of 20 requests each, after one warm-up. They read the
   hourly counts the store keeps; the same day counted from the observations is timed too.
3. Frames/s: a 640x480 clip of ``--seconds`` at 15 fps with one face (the astronaut photo
   swaying across a gray frame, mp4v) through `Monitor` (decode, detect with the default
   detector, as `ferlab monitor` does, searching the full frame every 10th frame, align, classify, track, aggregate,
   write to SQLite) and, alternating with it, through the same analyzer without the database.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ferlab.app import FaceAnalyzer
from ferlab.app.demo import ASTRONAUT
from ferlab.app.tracking import IoUTracker
from ferlab.faces import DEFAULT_DETECTOR, get_detector
from ferlab.faces.roi import RoiDetector
from ferlab.monitor.dashboard import create_dashboard
from ferlab.monitor.run import Monitor
from ferlab.monitor.sources import VideoFile
from ferlab.monitor.store import Observation, Store, open_store
from ferlab.monitor.store import observations as observations_table

START_MS = 1796083200000  # 2026-12-01T00:00:00Z
CLASSES = ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt")


def observations(store: Store, count: int, offset: int = 0) -> list[Observation]:
    rng = np.random.default_rng(offset)
    source = store.source_id("bench", "stream")
    session = store.start_session(source, "bench", 0)
    labels = rng.choice(CLASSES, count, p=[0.4, 0.25, 0.05, 0.12, 0.08, 0.02, 0.05, 0.03])
    probabilities = {name: 1 / len(CLASSES) for name in CLASSES}
    return [
        Observation(
            START_MS + (offset + i) * 1000,
            source,
            session,
            0,
            1,
            (10, 20, 110, 140),
            0.9,
            15,
            str(label),
            probabilities,
            "ferlab-wild",
            "0.1.0",
        )
        for i, label in enumerate(labels)
    ]


def rows_per_second(folder: Path) -> None:
    store = open_store(str(folder / "rows.db"))
    _person(store)
    rows = observations(store, 3000)
    start = time.perf_counter()
    for row in rows[:1000]:
        store.write([row])
    single = 1000 / (time.perf_counter() - start)
    start = time.perf_counter()
    store.write(rows[1000:])
    batched = 2000 / (time.perf_counter() - start)
    print(f"rows/s, one row per transaction (the monitor's unit, 1000 rows): {single:,.0f}")
    print(f"rows/s, 2000 rows in one transaction: {batched:,.0f}")
    store.close()


def _person(store: Store) -> None:
    from ferlab.monitor.store import now_ms, people

    with store.engine.begin() as connection:
        connection.execute(people.insert().values(id=1, name="bench person", created_ms=now_ms()))


def dashboard_latency(folder: Path, count: int) -> None:
    store = open_store(str(folder / "day.db"))
    _person(store)
    start = time.perf_counter()
    for offset in range(0, count, 10_000):
        store.write(observations(store, min(10_000, count - offset), offset))
    print(
        f"built {count:,} observations in {time.perf_counter() - start:.0f} s "
        f"({(folder / 'day.db').stat().st_size / 1e6:.0f} MB)"
    )
    day_start = START_MS + max(0, count // 86_400 - 1) * 86_400_000
    scan = (
        sa.select((observations_table.c.t_ms // 3_600_000).label("hour"), observations_table.c.label, sa.func.count())
        .where(observations_table.c.person_id == 1)
        .where(observations_table.c.t_ms >= day_start)
        .where(observations_table.c.t_ms < day_start + 86_400_000)
        .group_by("hour", observations_table.c.label)
    )
    times = []
    for _ in range(6):
        start = time.perf_counter()
        store.query(scan)
        times.append((time.perf_counter() - start) * 1000)
    print(
        f"the same day counted from the observations themselves (no hourly counts): median "
        f"{statistics.median(times[1:]):.1f} ms (5 queries after one warm-up)"
    )
    client = TestClient(create_dashboard(store))
    last_day = day_start  # the last full day
    for name, query in (
        ("day view (24 hour bins)", f"start_ms={last_day}&end_ms={last_day + 86_400_000}&bin=hour"),
        ("week view (7 day bins)", f"start_ms={last_day - 6 * 86_400_000}&end_ms={last_day + 86_400_000}&bin=day"),
        (
            "week view in Europe/Paris (7 day bins, bucketed in Python)",
            f"start_ms={last_day - 6 * 86_400_000}&end_ms={last_day + 86_400_000}&bin=day&tz=Europe/Paris",
        ),
    ):
        url = f"/api/shares?person_id=1&{query}"
        answer = client.get(url).json()
        times = []
        for _ in range(20):
            start = time.perf_counter()
            assert client.get(url).status_code == 200
            times.append((time.perf_counter() - start) * 1000)
        rows = sum(b["n"] for b in answer["bins"])
        print(
            f"dashboard {name} over {rows:,} of {count:,} observations: median {statistics.median(times):.1f} ms, "
            f"max {max(times):.1f} ms (20 requests)"
        )
    store.close()


def write_clip(path: Path, seconds: int, fps: int = 15) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (640, 480))
    photo = cv2.resize(cv2.imread(str(ASTRONAUT)), (300, 300))
    for i in range(seconds * fps):
        frame = np.full((480, 640, 3), 40, np.uint8)
        x = 120 + round(100 * np.sin(i / 20))
        frame[60:360, x : x + 300] = photo
        writer.write(frame)
    writer.release()
    return path


def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer(RoiDetector(get_detector(DEFAULT_DETECTOR), 10))


def frames_per_second(folder: Path, seconds: int, repeats: int) -> None:
    """The clip through `Monitor` into a fresh SQLite file and through the same analysis without a
    database, alternating, ``repeats`` times each; medians and ranges."""
    clip = write_clip(folder / "clip.mp4", seconds)
    source = VideoFile(clip, START_MS)
    plain = analyzer()
    for frame, _ in zip(source.frames(), range(10)):  # warm-up: the first runs of ONNX Runtime and OpenCV are slow
        plain.analyze(frame.rgb)
    with_db, alone = [], []
    for repeat in range(repeats):
        tracker, count = IoUTracker(), 0
        start = time.perf_counter()
        for frame in source.frames():  # decode + analyze + track, no database
            tracker.update([face.box for face in plain.analyze(frame.rgb)])
            count += 1
        alone.append(count / (time.perf_counter() - start))
        store = open_store(str(folder / f"fps{repeat}.db"))
        monitor = Monitor(store, plain)
        report = monitor.run(source)
        with_db.append(report.frames / report.seconds)
        store.close()
    print(
        f"frames/s, 640x480 clip of {count} frames, {repeats} runs each: monitor into SQLite median "
        f"{statistics.median(with_db):.1f} ({min(with_db):.1f}-{max(with_db):.1f}), same analysis without the "
        f"database {statistics.median(alone):.1f} ({min(alone):.1f}-{max(alone):.1f}); "
        f"{report.observations} observations per run"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="Folder of the databases (default: a temp folder).")
    parser.add_argument(
        "--parts", default="frames,rows,dashboard", help="Comma-separated parts to run: frames, rows, dashboard."
    )
    args = parser.parse_args()
    print(f"{platform.machine()} {platform.processor() or ''}, {time.strftime('%Y-%m-%d')}")
    with tempfile.TemporaryDirectory() as temp:
        folder = args.out or Path(temp)
        folder.mkdir(parents=True, exist_ok=True)
        parts = set(args.parts.split(","))
        if "frames" in parts:
            frames_per_second(folder, args.seconds, args.repeats)
        if "rows" in parts:
            rows_per_second(folder)
        if "dashboard" in parts:
            dashboard_latency(folder, args.rows)


if __name__ == "__main__":
    main()
