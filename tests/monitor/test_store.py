"""The store on a real SQLite file and a real PostgreSQL server: schema versions, writes, the
bounded retry buffer for a locked database, and a full disk."""

from __future__ import annotations

import dataclasses
import errno
import os
import sqlite3
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from ferlab.errors import FerlabError
from ferlab.monitor.retention import cleanup
from ferlab.monitor.run import BufferedWriter
from ferlab.monitor.store import (
    SCHEMA_VERSION,
    Observation,
    hourly,
    migrate,
    observations,
    open_store,
    schema_table,
    tracks,
)

CLASSES = ("neutral", "happy", "sad")


def observation(source_id: int, session_id: int, t_ms: int, track: int = 0, label: str = "happy") -> Observation:
    probabilities = {name: 0.8 if name == label else 0.1 for name in CLASSES}
    return Observation(t_ms, source_id, session_id, track, None, (1, 2, 30, 40), 0.9, 3, label, probabilities, "m", "1")


def test_schema_is_created_versioned_and_reopened_unchanged(db_url: str) -> None:
    store = open_store(db_url)
    assert store.query(sa.select(schema_table.c.version)) == [{"version": SCHEMA_VERSION}]
    assert migrate(store.engine) == SCHEMA_VERSION  # a second open finds it current and does nothing
    with store.engine.begin() as connection:
        connection.execute(schema_table.update().values(version=SCHEMA_VERSION + 1))
    with pytest.raises(FerlabError, match="newer than this ferlab"):
        open_store(db_url)
    store.close()


def test_observations_and_tracks_are_written_together(db_url: str) -> None:
    store = open_store(db_url)
    source = store.source_id("cam", "webcam")
    assert store.source_id("cam", "webcam") == source
    session = store.start_session(source, "host", 1)
    store.write([observation(source, session, 1000), observation(source, session, 2000, label="sad")])
    store.write([observation(source, session, 3000)])
    rows = store.query(sa.select(observations).order_by(observations.c.t_ms))
    assert [(r["t_ms"], r["label"], r["frames"]) for r in rows] == [
        (1000, "happy", 3),
        (2000, "sad", 3),
        (3000, "happy", 3),
    ]
    assert store.query(sa.select(tracks.c.first_ms, tracks.c.last_ms)) == [{"first_ms": 1000, "last_ms": 3000}]
    assert store.last_time(source) == 3000
    store.close()


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    open_store(str(tmp_path / "m.db")).close()
    assert sqlite3.connect(tmp_path / "m.db").execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_locked_database_buffers_then_writes_everything(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = open_store(str(path))
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    store.engine.dispose()  # new connections wait at most 0.1 s for a lock
    sa.event.listen(store.engine, "connect", lambda c, _: c.execute("PRAGMA busy_timeout=100"))
    writer = BufferedWriter(store, max_pending=3, retry_s=0.0)
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    writer.put([observation(source, session, 1000)])
    writer.put([observation(source, session, 2000)])
    assert len(writer.pending) == 2 and writer.retries >= 2
    locker.execute("ROLLBACK")
    writer.put([observation(source, session, 3000)])
    assert not writer.pending
    assert [r["t_ms"] for r in store.query(sa.select(observations.c.t_ms).order_by("t_ms"))] == [1000, 2000, 3000]
    locker.execute("BEGIN EXCLUSIVE")
    for t in (4000, 5000, 6000, 7000):  # one more than the buffer holds: the oldest waiting is dropped
        writer.put([observation(source, session, t)])
    assert (writer.dropped, writer.dropped_observations, len(writer.pending)) == (1, 1, 3)
    locker.execute("ROLLBACK")
    writer.close()
    assert [r["t_ms"] for r in store.query(sa.select(observations.c.t_ms).order_by("t_ms"))][3:] == [5000, 6000, 7000]
    store.close()


def test_full_disk_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    store = open_store(str(path))
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own limit on the file's size gives the error a full disk gives (SQLITE_FULL).
    sa.event.listen(store.engine, "connect", lambda c, _: c.execute(f"PRAGMA max_page_count={pages + 1}"))
    store.engine.dispose()
    writer = BufferedWriter(store)
    with pytest.raises(FerlabError) as error:
        writer.put([observation(source, session, t, track=t) for t in range(2000)])
    assert "the disk is full" in str(error.value) and "\n" not in str(error.value)
    store.close()


def test_several_writers_share_one_postgresql(postgres_url: str) -> None:
    """Two monitors (engines of their own) write to one server at once; every row arrives."""
    stores = [open_store(postgres_url) for _ in range(2)]
    errors = []

    def write(store, name: str) -> None:
        try:
            source = store.source_id(name, "webcam")
            session = store.start_session(source, name, 1)
            for t in range(50):
                store.write([observation(source, session, t * 1000)])
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(store, f"cam{i}")) for i, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert stores[0].query(sa.select(sa.func.count().label("n")).select_from(observations)) == [{"n": 100}]
    for store in stores:
        store.close()


def test_unreachable_database_is_one_line_error() -> None:
    with pytest.raises(FerlabError, match=r"^database postgresql\+psycopg://u:\*\*\*@127.0.0.1:1/x: "):
        open_store("postgresql://u:secret@127.0.0.1:1/x")


def test_hourly_counts_follow_the_observations(db_url: str) -> None:
    store = open_store(db_url)
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    hour = 3_600_000
    store.write([observation(source, session, t) for t in (0, 1000, hour + 5)])
    store.write([observation(source, session, 2000, label="sad"), observation(source, session, 3000)])
    rows = store.query(sa.select(hourly.c.hour, hourly.c.label, hourly.c.n).order_by(hourly.c.hour, hourly.c.label))
    assert rows == [
        {"hour": 0, "label": "happy", "n": 3},
        {"hour": 0, "label": "sad", "n": 1},
        {"hour": 1, "label": "happy", "n": 1},
    ]
    store.close()


def test_cleanup_deletes_old_crops_only(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "m.db"))
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    day = 86_400_000
    old, new = tmp_path / "old.jpg", tmp_path / "new.jpg"
    old.write_bytes(b"x")
    new.write_bytes(b"x")
    store.write(
        [
            dataclasses.replace(observation(source, session, 0), crop=str(old)),
            dataclasses.replace(observation(source, session, 9 * day), crop=str(new)),
        ]
    )
    assert cleanup(store, keep_days=2, now=10 * day) == 1
    assert not old.exists() and new.exists()
    assert [r["crop"] for r in store.query(sa.select(observations.c.crop).order_by(observations.c.t_ms))] == [
        None,
        str(new),
    ]
    store.close()


def test_postgresql_down_then_back_buffers_retries_and_counts_what_it_drops(proxied_postgres) -> None:
    """The real server behind a loopback TCP proxy that the test cuts and restores: intervals wait
    in the bounded buffer and are all written once it is back; past the bound, the oldest are
    dropped and counted, the rest written."""
    url, proxy = proxied_postgres
    store = open_store(url)
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    writer = BufferedWriter(store, max_pending=5, retry_s=0.0)
    writer.put([observation(source, session, 0)])
    proxy.close()  # the database is now unreachable, its open connections cut
    for t in (1000, 2000, 3000):
        writer.put([observation(source, session, t, track=1), observation(source, session, t, track=2)])
    assert len(writer.pending) == 3 and writer.retries >= 3 and writer.dropped == 0
    proxy.open()
    writer.put([observation(source, session, 4000)])
    assert not writer.pending and writer.dropped == 0
    proxy.close()
    for t in range(10_000, 18_000, 1000):  # 8 intervals of 2 observations into a buffer of 5
        writer.put([observation(source, session, t, track=1), observation(source, session, t, track=2)])
    assert (writer.dropped, writer.dropped_observations, len(writer.pending)) == (3, 6, 5)
    proxy.open()
    writer.close()
    times = [r["t_ms"] for r in store.query(sa.select(observations.c.t_ms).order_by("t_ms", "track"))]
    assert times == [0, 1000, 1000, 2000, 2000, 3000, 3000, 4000] + [
        t for t in range(13_000, 18_000, 1000) for _ in "ab"
    ]
    store.close()


def test_a_write_failing_with_enospc_is_one_line_error(db_url: str) -> None:
    """The driver's write fails with ENOSPC (injected under the store: what a full disk gives to
    a file write) on either database: one line naming the database and the full disk; nothing
    half-written."""
    store = open_store(db_url)
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    writer = BufferedWriter(store)
    writer.put([observation(source, session, 0)])

    def full(_connection, _cursor, statement: str, *_args) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OBSERVATIONS"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    sa.event.listen(store.engine, "before_cursor_execute", full)
    with pytest.raises(FerlabError) as error:
        writer.put([observation(source, session, 1000)])
    assert str(error.value) == f"database {store.url}: the disk is full (No space left on device)"
    sa.event.remove(store.engine, "before_cursor_execute", full)
    assert store.query(sa.select(observations.c.t_ms)) == [{"t_ms": 0}]
    assert store.query(sa.select(tracks.c.last_ms)) == [{"last_ms": 0}]  # the failed transaction rolled back
    store.close()


def test_postgresql_killed_and_restarted_loses_nothing_buffered(private_postgres) -> None:
    """kill -9 of the PostgreSQL server itself (every process, as a crash) while a monitor writes:
    the intervals wait in the buffer; once the server is back (after its crash recovery) they are
    all written, next to everything committed before the crash, each with its hourly count."""
    store = open_store(private_postgres.url)
    source = store.source_id("cam", "webcam")
    session = store.start_session(source, "host", 1)
    writer = BufferedWriter(store, max_pending=10, retry_s=0.0)
    for t in range(0, 5000, 1000):
        writer.put([observation(source, session, t)])
    private_postgres.kill()
    for t in range(5000, 10_000, 1000):
        writer.put([observation(source, session, t)])
    assert len(writer.pending) == 5 and writer.dropped == 0
    private_postgres.start()
    writer.close()
    times = [r["t_ms"] for r in store.query(sa.select(observations.c.t_ms).order_by("t_ms"))]
    assert times == list(range(0, 10_000, 1000))
    assert store.query(sa.select(sa.func.sum(hourly.c.n).label("n"))) == [{"n": 10}]
    store.close()
