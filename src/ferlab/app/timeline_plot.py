"""The picture of a video timeline, drawn with OpenCV (the application has no plotting library).

Top panel: the share of each expression, and of frames without a face, over time, as stacked
bars of up to `PLOT_BINS` bins of consecutive analysed frames. Bottom panel: one row per face
id, a mark per analysed frame coloured by its expression. A legend names the colours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from ferlab.app.draw import COLORS

PLOT_BINS = 60
"""Time bins of the expression-share panel (consecutive analysed frames are pooled)."""
MAX_FACE_ROWS = 30
"""Face ids drawn in the bottom panel (the first ones by id)."""
NO_FACE = "no face"
OTHER_COLORS = [
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
]
"""RGB colours of labels that `COLORS` does not name."""

WIDTH, LEFT, RIGHT, TOP, SHARE_HEIGHT, GAP, ROW_HEIGHT, BOTTOM = 1000, 70, 150, 34, 220, 30, 18, 44
FONT, INK, GRID = cv2.FONT_HERSHEY_SIMPLEX, (40, 40, 40), (225, 225, 225)


def label_colors(classes: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """The RGB colour of each class and of `NO_FACE`."""
    colors = {name: COLORS.get(name, OTHER_COLORS[i % len(OTHER_COLORS)]) for i, name in enumerate(classes)}
    return {**colors, NO_FACE: (235, 235, 235)}


def timeline_image(
    timeline: list[dict[str, Any]], classes: Sequence[str], title: str, wall_clock: bool = False
) -> np.ndarray:
    """An RGB uint8 picture of ``timeline`` (rows with ``frame``, ``time_s``, ``face_id``, ``label``)."""
    colors = label_colors(classes)
    face_ids = sorted({row["face_id"] for row in timeline if row["face_id"] is not None})[:MAX_FACE_ROWS]
    rows_height = ROW_HEIGHT * max(len(face_ids), 1)
    height = TOP + SHARE_HEIGHT + GAP + rows_height + BOTTOM
    image = np.full((height, WIDTH, 3), 255, np.uint8)
    times = np.array([row["time_s"] for row in timeline], float)
    start, step = times.min(), _frame_step(times)
    span = times.max() + step - start

    def x_of(seconds: float) -> int:
        return int(round(LEFT + (seconds - start) / span * (WIDTH - LEFT - RIGHT)))

    share_box = (TOP, TOP + SHARE_HEIGHT)
    _draw_shares(image, timeline, [*classes, NO_FACE], colors, x_of, share_box, end=times.max() + step)
    rows_top = TOP + SHARE_HEIGHT + GAP
    for index, face_id in enumerate(face_ids):
        y = rows_top + ROW_HEIGHT * index + ROW_HEIGHT // 2
        cv2.line(image, (LEFT, y), (WIDTH - RIGHT, y), GRID, 1)
        _text(image, f"#{face_id}", (LEFT - 8, y + 4), align_right=True)
        for row in timeline:
            if row["face_id"] == face_id:
                x = x_of(row["time_s"])
                cv2.rectangle(image, (x - 3, y - 5), (x + 3, y + 5), colors[row["label"]], cv2.FILLED)
    for top, bottom in (share_box, (rows_top, rows_top + rows_height)):
        cv2.rectangle(image, (LEFT, top), (WIDTH - RIGHT, bottom), INK, 1)
    _draw_time_axis(image, start, span, x_of, rows_top + rows_height, wall_clock)
    _draw_legend(image, [*classes, NO_FACE], colors)
    _text(image, title, (LEFT, TOP - 12), scale=0.5)
    return image


def _frame_step(times: np.ndarray) -> float:
    """The typical time between analysed frames (1 s for a single frame)."""
    gaps = np.diff(np.unique(times))
    return float(np.median(gaps)) if len(gaps) else 1.0


def _draw_shares(
    image: np.ndarray,
    timeline: list[dict[str, Any]],
    names: list[str],
    colors: dict[str, tuple[int, int, int]],
    x_of: Any,
    box: tuple[int, int],
    end: float,
) -> None:
    """Stacked bars: for each bin of consecutive frames, the share of each label (`NO_FACE` for None)."""
    frames = sorted({row["frame"] for row in timeline})
    bin_of_frame = {frame: rank * PLOT_BINS // len(frames) for rank, frame in enumerate(frames)}
    bins: dict[int, list[dict[str, Any]]] = {}
    for row in timeline:
        bins.setdefault(bin_of_frame[row["frame"]], []).append(row)
    starts = [min(row["time_s"] for row in rows) for _, rows in sorted(bins.items())]
    top, bottom = box
    for (_, rows), left, right in zip(sorted(bins.items()), starts, [*starts[1:], end]):
        labels = [row["label"] or NO_FACE for row in rows]
        y = float(bottom)
        for name in names:
            share = labels.count(name) / len(labels)
            if share:
                upper = y - share * (bottom - top)
                cv2.rectangle(
                    image,
                    (x_of(left), int(round(upper))),
                    (max(x_of(right) - 1, x_of(left)), int(round(y))),
                    colors[name],
                    cv2.FILLED,
                )
                y = upper
    for share in (0.0, 0.5, 1.0):
        y = int(round(bottom - share * (bottom - top)))
        _text(image, f"{share:g}", (LEFT - 8, y + 4), align_right=True)
    _text(image, "share", (8, (top + bottom) // 2 - 24))


def _draw_time_axis(image: np.ndarray, start: float, span: float, x_of: Any, y: int, wall_clock: bool) -> None:
    """Five time ticks under the bottom panel and the axis name."""
    for tick in np.linspace(start, start + span, 5):
        x = x_of(tick)
        cv2.line(image, (x, y), (x, y + 5), INK, 1)
        _text(image, f"{tick:.1f}", (x, y + 20), centre=True)
    _text(
        image, "time (s)" + (" since start" if wall_clock else ""), ((WIDTH - RIGHT + LEFT) // 2, y + 38), centre=True
    )


def _draw_legend(image: np.ndarray, names: list[str], colors: dict[str, tuple[int, int, int]]) -> None:
    x = WIDTH - RIGHT + 14
    for index, name in enumerate(names):
        y = TOP + 6 + 20 * index
        cv2.rectangle(image, (x, y), (x + 12, y + 12), colors[name], cv2.FILLED)
        cv2.rectangle(image, (x, y), (x + 12, y + 12), INK, 1)
        _text(image, name, (x + 18, y + 11))


def _text(
    image: np.ndarray,
    text: str,
    origin: tuple[int, int],
    scale: float = 0.42,
    centre: bool = False,
    align_right: bool = False,
) -> None:
    (width, _), _ = cv2.getTextSize(text, FONT, scale, 1)
    x = origin[0] - width // 2 if centre else origin[0] - width if align_right else origin[0]
    cv2.putText(image, text, (x, origin[1]), FONT, scale, INK, 1, cv2.LINE_AA)
