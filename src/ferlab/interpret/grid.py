"""PNG grids of images: one panel per picture, a caption above each, heat maps blended over.

The images are composed at a fixed pixel size with Pillow, and matplotlib writes the
captions, so a grid of R rows and C columns is always
``(C * PANEL_PX[0], R * PANEL_PX[1] + TITLE_PX)`` pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib import colormaps  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

PANEL_PX = (160, 190)
"""Width and height in pixels of one panel of a grid: a caption band, then the image."""
CAPTION_PX = 40
"""Height of a panel's caption band (up to three lines)."""
IMAGE_PX = 144
"""Side of the square a panel's image is scaled into (nearest neighbour, aspect kept)."""
TITLE_PX = 40
"""Height of the band holding a grid's title."""
HEAT_ALPHA = 0.45
"""Opacity of a heat map over its image."""
DPI = 80
"""Resolution the captions are laid out at (the pixel sizes above do not depend on it)."""


@dataclass
class Panel:
    """One picture of a grid: an image in [0, 1], its title, an optional heat map over it."""

    image: np.ndarray
    """``(H, W)`` or ``(H, W, 3)`` in [0, 1]."""
    title: str = ""
    heat: np.ndarray | None = None
    """``(H, W)`` in [0, 1], drawn over the image in the jet colours."""
    cmap: str = "gray"


def _colour(panel: Panel) -> Image.Image:
    """The panel's image, coloured by its colour map with the heat map blended over it, at `IMAGE_PX`."""
    rgb = colormaps[panel.cmap](panel.image)[..., :3] if panel.image.ndim == 2 else panel.image
    if panel.heat is not None:
        rgb = (1 - HEAT_ALPHA) * rgb + HEAT_ALPHA * colormaps["jet"](panel.heat)[..., :3]
    image = Image.fromarray(np.round(np.clip(rgb, 0, 1) * 255).astype(np.uint8))
    return ImageOps.pad(image, (IMAGE_PX, IMAGE_PX), Image.Resampling.NEAREST, color="white")


def save_grid(rows: Sequence[Sequence[Panel]], path: Path, title: str) -> None:
    """Draw the panels row by row (short rows leave blank cells) into a PNG of
    ``(columns * PANEL_PX[0], rows * PANEL_PX[1] + TITLE_PX)`` pixels."""
    width, height = PANEL_PX
    canvas = Image.new("RGB", (max(len(row) for row in rows) * width, len(rows) * height + TITLE_PX), "white")
    figure = plt.figure(figsize=(canvas.width / DPI, canvas.height / DPI), dpi=DPI)
    for r, row in enumerate(rows):
        top = TITLE_PX + r * height
        for c, panel in enumerate(row):
            canvas.paste(_colour(panel), (c * width + (width - IMAGE_PX) // 2, top + CAPTION_PX))
            figure.text(
                (c + 0.5) * width / canvas.width,
                1 - (top + CAPTION_PX - 2) / canvas.height,
                panel.title,
                ha="center",
                va="bottom",
                fontsize=7,
                linespacing=1.1,
            )
    figure.figimage(np.asarray(canvas), origin="upper", zorder=0)
    figure.suptitle(title, fontsize=10, y=1 - 8 / canvas.height, va="top")
    figure.savefig(path, dpi=DPI)
    plt.close(figure)
