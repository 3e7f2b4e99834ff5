"""One observation per track per interval: the frames of an interval averaged into one record."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ferlab.app.analyze import FaceResult


@dataclass
class Interval:
    """A track's frames within one interval ``[t_ms, t_ms + interval)``: mean probabilities and
    detector score, the last box, the frame count, and the first frame's face crop (when kept)."""

    t_ms: int
    track: int
    classes: tuple[str, ...]
    frames: int = 0
    probability_sum: np.ndarray | None = None
    score_sum: float = 0.0
    box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    crop: np.ndarray | None = None

    def add(self, face: FaceResult, crop: np.ndarray | None) -> None:
        row = np.array([face.probabilities[name] for name in self.classes], dtype=np.float64)
        self.probability_sum = row if self.probability_sum is None else self.probability_sum + row
        self.score_sum += face.score
        self.box = tuple(float(v) for v in face.box)
        self.frames += 1
        if self.crop is None:
            self.crop = crop

    @property
    def probabilities(self) -> dict[str, float]:
        """Mean probability of each class over the interval's frames."""
        return {name: float(p) for name, p in zip(self.classes, self.probability_sum / self.frames)}

    @property
    def label(self) -> str:
        """The class of highest mean probability."""
        return self.classes[int(np.argmax(self.probability_sum))]

    @property
    def score(self) -> float:
        """Mean detector score."""
        return self.score_sum / self.frames


class IntervalAggregator:
    """Collect tracked faces frame by frame; an interval is complete once a frame of a later one arrives.

    Intervals are aligned to multiples of ``interval_ms`` since 1970, so the same media gives the
    same records however it is split into runs.
    """

    def __init__(self, interval_ms: int, classes: tuple[str, ...]) -> None:
        if interval_ms < 1:
            raise ValueError(f"interval must be at least 1 ms, got {interval_ms}")
        self.interval_ms = interval_ms
        self.classes = classes
        self._open: dict[int, Interval] = {}

    def add(
        self, t_ms: int, tracks: list[int], faces: list[FaceResult], crops: list[np.ndarray | None] | None = None
    ) -> list[Interval]:
        """Add one frame's faces with their track ids; the intervals this frame completes."""
        start = t_ms - t_ms % self.interval_ms
        done = [interval for interval in self._open.values() if interval.t_ms < start]
        for interval in done:
            del self._open[interval.track]
        for index, (track, face) in enumerate(zip(tracks, faces)):
            interval = self._open.setdefault(track, Interval(start, track, self.classes))
            interval.add(face, None if crops is None else crops[index])
        return done

    def flush(self) -> list[Interval]:
        """Every open interval (at the end of a source)."""
        done, self._open = list(self._open.values()), {}
        return done
