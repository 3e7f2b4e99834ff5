"""`ferlab monitor` on a video file and a watched folder, into real databases; kill -9 and a restart."""

from __future__ import annotations

import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time
from pathlib import Path

import cv2
import sqlalchemy as sa
from skimage import data

from ferlab.monitor.run import Monitor
from ferlab.monitor.sources import MP4_EPOCH_S, VideoFile, WatchedFolder, mp4_creation_ms, parse_start
from ferlab.monitor.store import items, observations, open_store, tracks

from .conftest import CLIP_SECONDS, START, START_MS, write_clip


def test_a_clip_gives_one_observation_per_second_in_media_time(clip: Path, analyzer, db_url: str) -> None:
    store = open_store(db_url)
    report = Monitor(store, analyzer).run(VideoFile(clip, parse_start(START)))
    rows = store.query(sa.select(observations).order_by(observations.c.t_ms))
    assert [row["t_ms"] for row in rows] == [START_MS + 1000 * s for s in range(CLIP_SECONDS)]
    assert sum(row["frames"] for row in rows) == report.frames == CLIP_SECONDS * 10
    assert {row["label"] for row in rows} == {"happy"} and {row["track"] for row in rows} == {0}
    assert rows[0]["model"] == "ferlab-wild" and rows[0]["person_id"] is None
    assert store.query(sa.select(tracks.c.first_ms, tracks.c.last_ms)) == [
        {"first_ms": START_MS, "last_ms": START_MS + 1000 * (CLIP_SECONDS - 1)}
    ]
    again = Monitor(store, analyzer).run(VideoFile(clip, parse_start(START)))  # a restart continues: nothing left
    assert again.frames == 0 and len(store.query(sa.select(observations.c.id))) == CLIP_SECONDS
    store.close()


def test_watched_folder_records_each_photo_once_and_names_bad_files(tmp_path: Path, analyzer) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    (folder / "broken.jpg").write_bytes(b"not an image")
    os.utime(folder / "a.jpg", (1_700_000_000, 1_700_000_000))
    store = open_store(str(tmp_path / "m.db"))
    report = Monitor(store, analyzer).run(WatchedFolder(folder, once=True))
    assert report.items == 1 and len(report.errors) == 1 and "broken.jpg" in report.errors[0]
    assert [(r["t_ms"], r["label"]) for r in store.query(sa.select(observations))] == [(1_700_000_000_000, "happy")]
    statuses = {r["name"]: r["status"] for r in store.query(sa.select(items))}
    assert statuses["a.jpg"] == "1 face(s)" and statuses["broken.jpg"].startswith("error: ")
    cv2.imwrite(str(folder / "b.png"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    report = Monitor(store, analyzer).run(WatchedFolder(folder, once=True))
    assert report.items == 1 and not report.errors  # only the new file
    assert len(store.query(sa.select(observations))) == 2
    store.close()


def test_cli_records_a_clip_with_crops_and_alerts_and_refuses_bad_sources(clip: Path, tmp_path: Path) -> None:
    db, rules = tmp_path / "m.db", tmp_path / "rules.yaml"
    rules.write_text("rules: [{name: happy, kind: share_above, labels: [happy], share: 0.5, window_minutes: 0.05}]")
    run = subprocess.run(
        [sys.executable, "-m", "ferlab", "monitor", str(clip), "--db", str(db), "--start", START, "--save-crops",
         "--crops-dir", str(tmp_path / "crops"), "--rules", str(rules)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"{CLIP_SECONDS} observations" in run.stdout
    assert (
        "1 alert(s) fired" in run.stdout and f"{clip}: happy share 100% over 0.05 min" in run.stdout
    )  # 0-3 s judged at 3 s
    crops = sqlite3.connect(db).execute("SELECT crop FROM observations").fetchall()
    assert len(crops) == CLIP_SECONDS and all(Path(c).is_file() for (c,) in crops)
    bad = subprocess.run(
        [sys.executable, "-m", "ferlab", "monitor", str(tmp_path / "nope.mp4"), "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "nope.mp4: no such file" in bad.stderr


def test_kill_9_keeps_the_records_and_a_restart_continues(tmp_path: Path) -> None:
    """kill -9 while a 12 s clip is being recorded, once some intervals are written; the SQLite
    file passes its integrity check, and a restart completes the clip without duplicates."""
    clip = write_clip(tmp_path / "long.mp4", seconds=12)
    db = tmp_path / "m.db"
    command = [sys.executable, "-m", "ferlab", "monitor", str(clip), "--db", str(db), "--start", START]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:  # wait for a state: at least 3 intervals committed
            assert process.poll() is None, process.stderr.read().decode()
            if db.exists():
                try:
                    if sqlite3.connect(db).execute("SELECT count(*) FROM observations").fetchone()[0] >= 3:
                        break
                except sqlite3.OperationalError:  # the schema is not created yet
                    pass
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    connection = sqlite3.connect(db)
    assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    kept = connection.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert 3 <= kept < 12
    connection.close()
    assert subprocess.run(command, capture_output=True, timeout=600).returncode == 0
    times = [t for (t,) in sqlite3.connect(db).execute("SELECT t_ms FROM observations ORDER BY t_ms")]
    assert times == [START_MS + 1000 * s for s in range(12)]


def test_kill_9_on_postgresql_keeps_consistent_records_and_a_restart_continues(
    tmp_path: Path, postgres_url: str
) -> None:
    """The same on PostgreSQL: after kill -9 the server holds whole intervals only (each
    observation with its hourly count and its track's span), and a restart completes the clip."""
    clip = write_clip(tmp_path / "long.mp4", seconds=12)
    command = [sys.executable, "-m", "ferlab", "monitor", str(clip), "--db", postgres_url, "--start", START]
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))

    def count() -> int:
        try:
            with engine.connect() as connection:
                return connection.execute(sa.text("SELECT count(*) FROM observations")).scalar_one()
        except sa.exc.ProgrammingError:  # the schema is not created yet
            return 0

    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while count() < 3:  # wait for a state: at least 3 intervals committed
            assert process.poll() is None, process.stderr.read().decode()
            time.sleep(0.05)
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    with engine.connect() as connection:
        kept = connection.execute(sa.text("SELECT count(*), max(t_ms) FROM observations")).one()
        counted = connection.execute(sa.text("SELECT sum(n) FROM hourly")).scalar_one()
        last = connection.execute(sa.text("SELECT max(last_ms) FROM tracks")).scalar_one()
    assert 3 <= kept[0] < 12 and counted == kept[0] and last == kept[1]
    assert subprocess.run(command, capture_output=True, timeout=600).returncode == 0
    with engine.connect() as connection:
        times = connection.execute(sa.text("SELECT t_ms FROM observations ORDER BY t_ms")).scalars().all()
        counted = connection.execute(sa.text("SELECT sum(n) FROM hourly")).scalar_one()
    engine.dispose()
    assert times == [START_MS + 1000 * s for s in range(12)] and counted == 12


TRAIN_ONLY = ("torch", "torchvision", "kornia", "torchmetrics", "tensorboard", "pandas", "matplotlib", "scipy")


def test_monitoring_and_the_dashboard_run_without_torch(clip: Path, tmp_path: Path) -> None:
    """``ferlab monitor`` and the dashboard app with the training stack unimportable (pyyaml, which
    the monitor extra installs, stays)."""
    code = (
        f"import sys\nfor name in {TRAIN_ONLY!r}: sys.modules[name] = None\n"
        "from ferlab.cli import main\nfrom ferlab.monitor.dashboard import create_dashboard\n"
        f"sys.argv = ['ferlab', 'monitor', {str(clip)!r}, '--db', 'm.db', '--start', {START!r}]\n"
        "try:\n    main()\nexcept SystemExit as exit:\n    assert not exit.code, exit.code\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    assert f"{CLIP_SECONDS} observations" in run.stdout


def test_two_monitor_processes_write_to_one_postgresql(clip: Path, tmp_path: Path, postgres_url: str) -> None:
    """Two `ferlab monitor` processes start together on one empty PostgreSQL database (both
    migrate it: one waits for the other's lock) and record a clip each."""
    copies = [tmp_path / f"cam{i}.mp4" for i in range(2)]
    for copy in copies:
        copy.write_bytes(clip.read_bytes())
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "ferlab", "monitor", str(copy), "--db", postgres_url, "--start", START],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for copy in copies
    ]
    for process in processes:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        assert f"{CLIP_SECONDS} observations" in out
    store = open_store(postgres_url)
    counts = store.query(
        sa.select(observations.c.source_id, sa.func.count().label("n")).group_by(observations.c.source_id)
    )
    assert sorted(row["n"] for row in counts) == [CLIP_SECONDS, CLIP_SECONDS]
    store.close()


def test_start_time_from_the_mp4_header_else_the_modification_time(clip: Path, tmp_path: Path) -> None:
    """OpenCV leaves the movie header's creation time at 0 (not set): the file's modification time
    minus its duration is used. With the time set in the header (patched in place), that is used."""
    plain = tmp_path / "plain.mp4"
    plain.write_bytes(clip.read_bytes())
    os.utime(plain, (1_800_000_000, 1_800_000_000))
    assert mp4_creation_ms(plain) is None
    assert next(VideoFile(plain).frames()).t_ms == 1_800_000_000_000 - CLIP_SECONDS * 1000
    data = bytearray(clip.read_bytes())
    at = data.index(b"mvhd")
    assert data[at + 4] == 0  # version 0: 32-bit seconds since 1904 follow the version and flags
    data[at + 8 : at + 12] = struct.pack(">I", START_MS // 1000 + MP4_EPOCH_S)
    stamped = tmp_path / "stamped.mp4"
    stamped.write_bytes(bytes(data))
    assert mp4_creation_ms(stamped) == START_MS
    assert [frame.t_ms for _, frame in zip(range(2), VideoFile(stamped).frames())] == [START_MS, START_MS + 100]
    assert mp4_creation_ms(tmp_path / "plain.mp4") is None and mp4_creation_ms(Path(__file__)) is None


def test_without_the_monitor_extra_every_command_says_so_in_one_line(tmp_path: Path) -> None:
    for argv in (["x.mp4", "--rules", "r.yaml"], ["enrol", "ada", "a.jpg"], ["serve"]):
        code = (
            "import sys\nsys.modules['sqlalchemy'] = None\nsys.modules['yaml'] = None\n"
            f"from ferlab.cli import main\nmain(['monitor', *{argv!r}])\n"
        )
        run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert run.returncode == 2
        assert run.stderr.strip() == 'error: monitoring needs sqlalchemy, yaml: pip install "ferlab[monitor]"'


def test_postgresql_down_during_a_run_drops_past_the_buffer_and_reports_it(clip: Path, analyzer, proxied_postgres):
    """PostgreSQL becomes unreachable at the clip's first frame and reachable again at its last:
    with a buffer of 2 intervals, the run finishes, writes what the buffer kept and reports the
    rest as dropped."""
    url, proxy = proxied_postgres
    frames = []

    class Cutting:
        """The analyzer, cutting the database at the first frame and restoring it at the last."""

        def __getattr__(self, name: str):
            return getattr(analyzer, name)

        def analyze(self, rgb):
            frames.append(1)
            if len(frames) == 1:
                proxy.close()
            if len(frames) == CLIP_SECONDS * 10:
                proxy.open()
            return analyzer.analyze(rgb)

    store = open_store(url)
    report = Monitor(store, Cutting(), max_pending=2).run(VideoFile(clip, parse_start(START)))
    kept = [row["t_ms"] for row in store.query(sa.select(observations.c.t_ms).order_by(observations.c.t_ms))]
    assert report.observations == CLIP_SECONDS and report.dropped == CLIP_SECONDS - 3
    assert kept == [START_MS + 1000 * s for s in range(CLIP_SECONDS - 3, CLIP_SECONDS)]  # the newest ones
    store.close()


def test_cli_full_disk_is_one_line_error(clip: Path, tmp_path: Path) -> None:
    """`ferlab monitor` whose database writes fail with ENOSPC (injected into the store's writes,
    as a full disk would): exit code 2 and one line on stderr, no traceback."""
    code = (
        "import errno, os, sys\nfrom ferlab.monitor import store\n"
        "def full(self, *args, **kwargs):\n    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))\n"
        "store.Store.write = full\nfrom ferlab.cli import main\n"
        f"main(['monitor', {str(clip)!r}, '--db', 'm.db', '--start', {START!r}])\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip() == "error: database sqlite:///m.db: the disk is full (No space left on device)"


def test_alert_evaluation_failing_on_the_database_does_not_stop_the_monitor(clip: Path, analyzer, tmp_path: Path):
    """The database fails while a written batch's rules are evaluated (as when it goes down right
    after the write): a warning, the observations kept, the run goes on to the end."""
    from ferlab.monitor.alerts import AlertEngine, Rule, Rules

    store = open_store(str(tmp_path / "m.db"))
    engine = AlertEngine(
        store, Rules([Rule("happy", "share_above", {"window_minutes": 0.05, "share": 0.5, "labels": ("happy",)})])
    )
    calls = []

    def failing(batch):
        calls.append(len(batch))
        raise sa.exc.OperationalError("UPDATE alert_state", {}, Exception("server closed the connection"))

    engine.observe = failing
    report = Monitor(store, analyzer, alerts=engine).run(VideoFile(clip, parse_start(START)))
    assert report.observations == CLIP_SECONDS == len(calls)
    assert len(store.query(sa.select(observations.c.id))) == CLIP_SECONDS
    store.close()
