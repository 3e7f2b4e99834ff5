"""`run_monitor`: sources -> detect, align, classify, track -> one observation per track per interval -> database.

Each completed interval is written in its own transaction, so a kill -9 loses at most the
intervals still open; a restart continues a video file after its last recorded time and a
watched folder after its recorded files. Writes that fail because the database is locked or
unreachable are kept in a bounded buffer and retried; past its bound the oldest are dropped,
counted and reported; a full disk stops the run with a one-line error.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np
import sqlalchemy as sa

from ferlab.app.analyze import FaceAnalyzer, FaceResult
from ferlab.app.tracking import IoUTracker
from ferlab.errors import FerlabError, first_line
from ferlab.monitor.aggregate import Interval, IntervalAggregator
from ferlab.monitor.sources import ItemError, LiveSource, VideoFile, WatchedFolder
from ferlab.monitor.store import Observation, Store
from ferlab.version import package_version

if TYPE_CHECKING:
    from ferlab.monitor.alerts import AlertEngine
    from ferlab.monitor.identity import Identity

log = logging.getLogger(__name__)

FULL_DISK = ("disk is full", "no space left", "could not extend file", "disk full")


def disk_error(what: str, error: OSError) -> FerlabError:
    """The one-line error for an `OSError` writing ``what``: a full disk (or quota) said plainly."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return FerlabError(f"{what}: the disk is full ({error.strerror or 'no space left on device'})")
    return FerlabError(f"{what}: cannot be written ({first_line(error)})")


@dataclass
class Pending:
    """One transaction waiting to be written: observations and, for a watched file, its item."""

    batch: list[Observation]
    item: tuple[int, str, str] | None = None


class BufferedWriter:
    """Write batches through; while the database is locked or unreachable, keep up to ``max_pending``
    batches and retry them (oldest first) on the next write, at most every ``retry_s``.

    Past ``max_pending`` the oldest waiting batch is dropped to make room: ``dropped`` and
    ``dropped_observations`` count them (a watched file in a dropped batch is not marked done,
    so a restart reads it again). `FerlabError` (one line, naming the database) when the disk
    is full, or when `close` cannot write what is left within ``close_timeout_s``.
    """

    def __init__(
        self,
        store: Store,
        max_pending: int = 600,
        retry_s: float = 1.0,
        close_timeout_s: float = 30.0,
        on_written: Callable[[list[Observation]], None] = lambda _batch: None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_pending < 1:
            raise FerlabError(f"--buffer must be at least 1 interval, got {max_pending}")
        self.store = store
        self.max_pending = max_pending
        self.retry_s = retry_s
        self.close_timeout_s = close_timeout_s
        self.on_written = on_written
        self.clock = clock
        self.pending: deque[Pending] = deque()
        self.retries = 0
        self.dropped = 0
        self.dropped_observations = 0
        self._next_try = 0.0

    def put(self, batch: list[Observation], item: tuple[int, str, str] | None = None) -> None:
        """Queue a transaction and write what the database accepts now."""
        if len(self.pending) >= self.max_pending and not self.flush():  # full: try now, whatever retry_s says
            lost = self.pending.popleft()
            if not self.dropped:
                log.error(
                    "database %s: unavailable with %d intervals waiting (--buffer); dropping the oldest",
                    self.store.url,
                    len(self.pending) + 1,
                )
            self.dropped += 1
            self.dropped_observations += len(lost.batch)
        self.pending.append(Pending(batch, item))
        if self.clock() >= self._next_try:
            self.flush()

    def flush(self) -> bool:
        """Write the waiting transactions in order; whether all were written."""
        while self.pending:
            first = self.pending[0]
            try:
                self.store.write(first.batch, first.item)
            except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
                reason = first_line(error.orig or error)
                if any(words in reason.lower() for words in FULL_DISK):
                    raise FerlabError(f"database {self.store.url}: the disk is full ({reason})") from None
                self.retries += 1
                self._next_try = self.clock() + self.retry_s
                log.warning("database %s: %s; %d intervals buffered", self.store.url, reason, len(self.pending))
                return False
            except OSError as error:  # from the driver or the file system under it, e.g. ENOSPC
                raise disk_error(f"database {self.store.url}", error) from None
            self.pending.popleft()
            self.on_written(first.batch)
        return True

    def close(self, sleep: Callable[[float], None] = time.sleep) -> None:
        """Write everything still waiting, retrying up to ``close_timeout_s``."""
        deadline = self.clock() + self.close_timeout_s
        while not self.flush():
            if self.clock() > deadline:
                raise FerlabError(
                    f"database {self.store.url}: unavailable; {len(self.pending)} intervals could not be written"
                )
            sleep(self.retry_s)


@dataclass
class SourceReport:
    """What monitoring one source did."""

    name: str
    frames: int = 0
    observations: int = 0
    items: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    dropped: int = 0
    """Observations dropped because the database stayed unavailable past the buffer (``--buffer``)."""


class Monitor:
    """Runs sources into a `Store` with one analyzer.

    interval_s: length of an observation's interval (one row per track per interval).
    crops_dir: when set, the first face crop of each observation is saved under it (JPEG).
    identity: matches new tracks to enrolled people (`ferlab.monitor.identity.Identity`), or None.
    alerts: evaluates alert rules as observations are written (`ferlab.monitor.alerts.AlertEngine`), or None.
    """

    def __init__(
        self,
        store: Store,
        analyzer: FaceAnalyzer,
        interval_s: float = 1.0,
        crops_dir: Path | None = None,
        identity: Identity | None = None,
        alerts: AlertEngine | None = None,
        max_pending: int = 600,
    ) -> None:
        if interval_s <= 0:
            raise FerlabError(f"--interval must be above 0 seconds, got {interval_s}")
        self.store = store
        self.analyzer = analyzer
        self.interval_ms = max(1, round(interval_s * 1000))
        self.crops_dir = crops_dir
        self.identity = identity
        self.alerts = alerts
        self.writer = BufferedWriter(store, max_pending, on_written=self._written)
        self._gaps: dict[int, int] = {}
        classifier = analyzer.classifier
        self.model, self.model_version = classifier.name, package_version()

    def _written(self, batch: list[Observation]) -> None:
        """Evaluate the alert rules on a written batch; the database failing now (the batch is kept)
        skips this batch's evaluation with a warning rather than stopping the monitor."""
        if self.alerts is None:
            return
        try:
            self.alerts.observe(batch)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            log.warning(
                "database %s: alert rules not evaluated on %d observation(s): %s",
                self.store.url,
                len(batch),
                first_line(error.orig or error),
            )

    def run(self, source: VideoFile | LiveSource | WatchedFolder, stop: threading.Event | None = None) -> SourceReport:
        """Monitor one source until it ends (or ``stop`` is set); what was done."""
        report = SourceReport(source.name)
        started = time.perf_counter()
        try:
            source_id = self.store.source_id(source.name, source.kind)
            session_id = self.store.start_session(source_id, socket.gethostname(), os.getpid())
        except sa.exc.OperationalError as error:
            raise FerlabError(f"database {self.store.url}: {first_line(error.orig or error)}") from None
        live = isinstance(source, LiveSource)
        if live:
            source.on_gap = lambda start, end, reason: self._gap(
                source_id, start, end, reason, int(source.clock() * 1000)
            )
            if self.alerts is not None:  # a source that never delivers is down from its start
                self.alerts.heartbeat(source_id, int(source.clock() * 1000))
        context = _Context(source_id, session_id, {})
        try:
            if isinstance(source, WatchedFolder):
                source.done |= self.store.items_done(source_id)
                self._run_folder(source, context, report, stop)
            else:
                self._run_stream(source, context, report, stop)
            self.writer.close()
        finally:
            report.dropped = self.writer.dropped_observations
            if live and self.alerts is not None:
                self.alerts.stopped(source_id)
            report.seconds = time.perf_counter() - started
            try:
                self.store.end_session(session_id)
            except sa.exc.OperationalError as error:  # the session then shows no end: the records are kept
                log.warning("database %s: %s", self.store.url, first_line(error.orig or error))
        return report

    def _gap(self, source_id: int, start_ms: int, end_ms: int | None, reason: str, now: int) -> None:
        """Record a source's gap (opened once per ``start_ms``, closed at ``end_ms``) and tell the alerts;
        with the database unavailable too, the gap is only logged."""
        try:
            if start_ms not in self._gaps:
                self._gaps[start_ms] = self.store.open_gap(source_id, start_ms, reason)
            if end_ms is not None:
                self.store.close_gap(self._gaps.pop(start_ms), end_ms)
            if self.alerts is not None:
                self.alerts.source_gap(source_id, start_ms, end_ms, now)
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            log.warning("database %s: gap of source %d not recorded: %s", self.store.url, source_id, first_line(error))
        except OSError as error:
            raise disk_error(f"database {self.store.url}", error) from None

    def _run_stream(self, source: VideoFile | LiveSource, context: _Context, report: SourceReport, stop) -> None:
        tracker = IoUTracker()
        aggregator = IntervalAggregator(self.interval_ms, tuple(self.analyzer.classifier.classes))
        after = self.store.last_time(context.source_id) if isinstance(source, VideoFile) else None
        if after is not None:  # a restart: the last recorded interval is complete, go on after it
            after = after - after % self.interval_ms + self.interval_ms - 1
        heartbeat = self.alerts.heartbeat if self.alerts is not None and isinstance(source, LiveSource) else None
        for frame in source.frames(after, stop):
            if heartbeat is not None:
                heartbeat(context.source_id, frame.t_ms)
            faces = self.analyzer.analyze(frame.rgb)
            ids = tracker.update([face.box for face in faces])
            for track, face in zip(ids, faces):
                if track not in context.people:
                    context.people[track] = self._match(frame.rgb, face)
            crops = [self._crop(frame.rgb, face) for face in faces] if self.crops_dir else None
            done = aggregator.add(frame.t_ms, ids, faces, crops)
            report.frames += 1
            if done:
                self._write(done, context, report)
        self._write(aggregator.flush(), context, report)

    def _run_folder(self, source: WatchedFolder, context: _Context, report: SourceReport, stop) -> None:
        for index, frame in enumerate(source.frames(None, stop)):
            if isinstance(frame, ItemError):
                report.errors.append(frame.reason)
                self.writer.put([], (context.source_id, frame.item, f"error: {frame.reason}"[:200]))
                continue
            faces = self.analyzer.analyze(frame.rgb)
            intervals = []
            for number, face in enumerate(faces):
                track = index * 1000 + number  # each photo's faces are their own tracks
                context.people[track] = self._match(frame.rgb, face)
                interval = Interval(frame.t_ms, track, tuple(self.analyzer.classifier.classes))
                interval.add(face, self._crop(frame.rgb, face) if self.crops_dir else None)
                intervals.append(interval)
            report.frames += 1
            report.items += 1
            status = f"{len(faces)} face(s)"
            self._write(intervals, context, report, (context.source_id, frame.item, status))

    def _match(self, rgb: np.ndarray, face: FaceResult) -> int | None:
        return None if self.identity is None else self.identity.match(rgb, face)

    def _crop(self, rgb: np.ndarray, face: FaceResult) -> np.ndarray:
        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        return rgb[max(0, y1) : max(0, y2), max(0, x1) : max(0, x2)].copy()

    def _write(
        self, intervals: list[Interval], context: _Context, report: SourceReport, item: tuple | None = None
    ) -> None:
        if not intervals and item is None:
            return
        batch = [
            Observation(
                t_ms=interval.t_ms,
                source_id=context.source_id,
                session_id=context.session_id,
                track=interval.track,
                person_id=context.people.get(interval.track),
                box=interval.box,
                score=interval.score,
                frames=interval.frames,
                label=interval.label,
                probabilities=interval.probabilities,
                model=self.model,
                model_version=self.model_version,
                crop=self._save_crop(interval, context),
            )
            for interval in intervals
        ]
        self.writer.put(batch, item)
        report.observations += len(batch)

    def _save_crop(self, interval: Interval, context: _Context) -> str | None:
        if self.crops_dir is None or interval.crop is None or interval.crop.size == 0:
            return None
        day = datetime.fromtimestamp(interval.t_ms / 1000, timezone.utc).strftime("%Y-%m-%d")
        path = (
            self.crops_dir / str(context.source_id) / day / f"{context.session_id}_{interval.track}_{interval.t_ms}.jpg"
        )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise disk_error(str(path.parent), error) from None
        if not cv2.imwrite(str(path), cv2.cvtColor(interval.crop, cv2.COLOR_RGB2BGR)):
            raise FerlabError(f"{path}: the face crop cannot be written (disk full or no permission)")
        return str(path)


@dataclass
class _Context:
    source_id: int
    session_id: int
    people: dict[int, int | None]
    """Each track's person id (None: anonymous), decided when the track starts."""
