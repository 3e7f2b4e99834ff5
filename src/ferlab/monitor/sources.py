"""What `ferlab monitor` reads: video files, webcams, streams (RTSP/HTTP through OpenCV) and watched folders.

Each source yields `Frame`s stamped with the media's own time in ms since 1970 UTC: a video
file's start time (``--start``, else the creation time in an MP4/MOV file's header, else its
modification time minus its duration) plus the frame's position; the wall clock for webcams
and streams; the file's modification time for a watched folder's photo. A webcam or stream
that stops delivering is reopened with exponential backoff, and the gap is reported through
``on_gap``.
"""

from __future__ import annotations

import logging
import os
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from ferlab.app.analyze import load_rgb
from ferlab.app.video import open_video
from ferlab.errors import FerlabError

log = logging.getLogger(__name__)


@dataclass
class Frame:
    """One image of a source: its media time (ms since 1970 UTC), pixels (RGB uint8) and, for a
    watched folder, the file it came from."""

    t_ms: int
    rgb: np.ndarray
    item: str | None = None


@dataclass
class ItemError:
    """A watched file that could not be read: recorded as done with this reason, never retried."""

    item: str
    reason: str


def parse_start(text: str) -> int:
    """``--start`` (ISO 8601; a time without a zone is UTC) as ms since 1970 UTC."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FerlabError(f"--start {text!r}: not an ISO 8601 time such as 2026-12-01T09:30:00") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return int(moment.timestamp() * 1000)


MP4_EPOCH_S = 2_082_844_800
"""Seconds from 1904-01-01 (the epoch of MP4/QuickTime times) to 1970-01-01."""


def mp4_creation_ms(path: Path) -> int | None:
    """The creation time in an MP4/MOV file's movie header (``moov/mvhd``, ISO/IEC 14496-12), in
    ms since 1970 UTC; None for other formats, a damaged file, or a time of 0 (not set, as
    OpenCV and many encoders leave it)."""
    with open(path, "rb") as file:
        end = path.stat().st_size
        position = 0
        while position + 8 <= end:
            file.seek(position)
            size, kind = struct.unpack(">I4s", file.read(8))
            header = 8
            if size == 1:
                (size,) = struct.unpack(">Q", file.read(8))
                header = 16
            elif size == 0:
                size = end - position
            if size < header:
                return None
            if kind == b"moov":  # descend: mvhd is a child of moov
                position, end = position + header, position + size
                continue
            if kind == b"mvhd":
                version = file.read(4)[0]
                data = file.read(8 if version == 1 else 4)
                seconds = int.from_bytes(data, "big")
                return (seconds - MP4_EPOCH_S) * 1000 if seconds else None
            position += size
    return None


@dataclass
class VideoFile:
    """A recorded video file; frame times are its start plus the frame's position (see the module)."""

    path: Path
    start_ms: int | None = None
    kind: str = "file"

    @property
    def name(self) -> str:
        return str(self.path.resolve())

    def frames(self, after_ms: int | None = None, stop: threading.Event | None = None) -> Iterator[Frame]:
        """The frames whose time is after ``after_ms`` (to continue a run that stopped), in order."""
        capture = open_video(self.path)
        try:
            fps = capture.get(cv2.CAP_PROP_FPS)
            if not 0 < fps <= 1000:
                raise FerlabError(f"{self.path}: the video gives no frame rate, so its frames have no time")
            count = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
            start = self.start_ms if self.start_ms is not None else mp4_creation_ms(self.path)
            if start is None:
                start = int(self.path.stat().st_mtime * 1000 - count / fps * 1000)
            index = 0
            while (stop is None or not stop.is_set()) and capture.grab():
                t_ms = start + round(index * 1000 / fps)
                index += 1
                if after_ms is not None and t_ms <= after_ms:
                    continue
                ok, bgr = capture.retrieve()
                if ok:
                    yield Frame(t_ms, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
        finally:
            capture.release()


@dataclass
class LiveSource:
    """A webcam (an int index) or a stream URL, stamped with the wall clock and reopened when it drops.

    After a failed read the source is reopened after ``backoff_s``, doubled on every failed
    attempt up to ``max_backoff_s`` (waited on the stop event, so a stop ends the wait;
    ``sleep`` replaces that wait in tests); ``on_gap(start_ms, end_ms, reason)`` is called with
    ``end_ms`` None when the source drops and at every failed reconnection, and once more with
    the time it delivered again.
    """

    target: int | str
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] | None = None
    on_gap: Callable[[int, int | None, str], None] = field(default=lambda *_: None)

    @property
    def kind(self) -> str:
        return "webcam" if isinstance(self.target, int) else "stream"

    @property
    def name(self) -> str:
        return f"webcam {self.target}" if isinstance(self.target, int) else str(self.target)

    def _open(self) -> cv2.VideoCapture | None:
        if isinstance(self.target, int):
            try:
                return open_video(self.target)
            except FerlabError:
                return None
        capture = cv2.VideoCapture(self.target)
        return capture if capture.isOpened() else None

    def frames(self, after_ms: int | None = None, stop: threading.Event | None = None) -> Iterator[Frame]:
        """Frames until ``stop`` is set (``after_ms`` is ignored: live time only moves on)."""
        stop = stop or threading.Event()
        capture, gap_start, delay = self._open(), None, self.backoff_s
        if capture is None:
            raise FerlabError(f"{self.name}: cannot be opened (no such camera or stream, or it is busy)")
        try:
            while not stop.is_set():
                ok, bgr = capture.read() if capture is not None else (False, None)
                if ok:
                    now = int(self.clock() * 1000)
                    if gap_start is not None:
                        self.on_gap(gap_start, now, "reconnected")
                        gap_start, delay = None, self.backoff_s
                    yield Frame(now, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                    continue
                if gap_start is None:
                    gap_start = int(self.clock() * 1000)
                    log.warning("%s: no frame; reconnecting", self.name)
                self.on_gap(gap_start, None, "no frame")
                if capture is not None:
                    capture.release()
                (self.sleep or stop.wait)(delay)
                delay = min(delay * 2, self.max_backoff_s)
                capture = self._open()
        finally:
            if capture is not None:
                capture.release()


@dataclass
class WatchedFolder:
    """A folder of photos; every file in it (recursively) is read once, new ones as they appear.

    A photo's time is its modification time. Files still being written are left for the next
    poll until their size stops changing. With ``once`` the folder is read as it is and the
    source ends.
    """

    path: Path
    poll_s: float = 2.0
    once: bool = False
    sleep: Callable[[float], None] = time.sleep
    kind: str = "folder"
    done: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return str(self.path.resolve())

    def frames(self, after_ms: int | None = None, stop: threading.Event | None = None) -> Iterator[Frame | ItemError]:
        """A `Frame` (or an `ItemError`) per file not in `done`, oldest first."""
        stop = stop or threading.Event()
        sizes: dict[str, int] = {}
        while not stop.is_set():
            for path in sorted(self._new_files(sizes), key=lambda p: (p.stat().st_mtime, str(p))):
                name = str(path.relative_to(self.path))
                self.done.add(name)
                try:
                    yield Frame(int(path.stat().st_mtime * 1000), load_rgb(path), name)
                except FerlabError as error:
                    yield ItemError(name, str(error))
            if self.once:
                return
            stop.wait(self.poll_s)

    def _new_files(self, sizes: dict[str, int]) -> list[Path]:
        """Files not done whose size is the same as at the last poll (so not being written)."""
        ready = []
        for path in self.path.rglob("*"):
            name = str(path.relative_to(self.path))
            if name in self.done or not path.is_file() or path.name.startswith("."):
                continue
            size = path.stat().st_size
            if sizes.get(name) == size or self.once:
                ready.append(path)
            sizes[name] = size
        return ready


def open_source(spec: str, start_ms: int | None = None, once: bool = False) -> VideoFile | LiveSource | WatchedFolder:
    """The source a command-line argument names: a webcam index, a URL, a folder or a video file."""
    if spec.isdigit():
        return LiveSource(int(spec))
    if "://" in spec:
        return LiveSource(spec)
    path = Path(spec)
    if path.is_dir():
        if not os.access(path, os.R_OK):
            raise FerlabError(f"{spec}: folder cannot be read")
        return WatchedFolder(path, once=once)
    if path.is_file():
        open_video(path).release()
        return VideoFile(path, start_ms)
    raise FerlabError(f"{spec}: no such file, folder, webcam index or stream URL")
