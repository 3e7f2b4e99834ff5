"""Small datasets written in the real on-disk layouts, for the reader tests."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

USAGES = ("Training",) * 6 + ("PublicTest",) * 3 + ("PrivateTest",) * 3


def fer2013_rows(n_per_usage: dict[str, int] | None = None, seed: int = 0) -> list[tuple[int, str, str]]:
    """(emotion, pixels, Usage) rows with random pixels, emotions cycling 0..6."""
    rng = np.random.default_rng(seed)
    usages = USAGES if n_per_usage is None else [u for u, n in n_per_usage.items() for _ in range(n)]
    return [
        (i % 7, " ".join(map(str, rng.integers(0, 256, 48 * 48))), usage) for i, usage in enumerate(usages)
    ]


def write_fer2013_csv(path: Path, rows, header: str = "emotion,pixels,Usage") -> Path:
    """Write rows in fer2013.csv's column order (or icml_face_data.csv's when header says so)."""
    columns = [c.strip() for c in header.split(",")]
    lines = [header]
    for emotion, pixels, usage in rows:
        record = {"emotion": str(emotion), "pixels": pixels, "Usage": usage}
        lines.append(",".join(record[c] for c in columns))
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def save_gray(path: Path, value: int, size: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size), value, np.uint8)).save(path)
    return path


@pytest.fixture
def fer2013_csv(tmp_path: Path) -> Path:
    return write_fer2013_csv(tmp_path / "fer2013.csv", fer2013_rows())


@pytest.fixture
def make_folder_tree(tmp_path: Path) -> Callable[[dict[str, int]], Path]:
    """Write ``{"train/happy": 3, ...}`` as PNG files; returns the root."""

    def make(layout: dict[str, int], root_name: str = "faces") -> Path:
        root = tmp_path / root_name
        for folder, count in layout.items():
            for i in range(count):
                save_gray(root / folder / f"img{i}.png", value=10 * i)
        return root

    return make


@pytest.fixture
def rows_factory() -> Callable[..., list]:
    """`fer2013_rows` as a fixture, for tests that build their own files."""
    return fer2013_rows


@pytest.fixture
def csv_writer() -> Callable[..., Path]:
    """`write_fer2013_csv` as a fixture."""
    return write_fer2013_csv


@pytest.fixture
def gray_writer() -> Callable[..., Path]:
    """`save_gray` as a fixture."""
    return save_gray
