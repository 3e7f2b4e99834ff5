"""Shared test settings and fixtures: a private dataset cache, the real data, small
datasets written in the real on-disk layouts, and the CLI run in a subprocess as a user runs it."""

from __future__ import annotations

import gzip
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SHARED_FER2013 = REPO.parent / "shared" / "data" / "fer2013"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Point the dataset cache at a temp dir so tests never touch the user's cache."""
    mp = pytest.MonkeyPatch()
    mp.setenv("FERLAB_CACHE_DIR", str(tmp_path_factory.mktemp("ferlab-cache")))
    yield
    mp.undo()


@pytest.fixture(scope="session")
def fer2013_root() -> Path:
    """The real FER2013 + FERPlus folder; tests using it skip where it is absent."""
    if not (SHARED_FER2013 / "fer2013.csv.gz").is_file():
        pytest.skip(f"real FER2013 data not found at {SHARED_FER2013}")
    return SHARED_FER2013


@pytest.fixture(scope="session")
def read_fer2013_faces(fer2013_root: Path) -> Callable[[str, int], np.ndarray]:
    """``read(usage, count)``: the first ``count`` faces of ``usage`` (Training, PublicTest,
    PrivateTest) in the real fer2013.csv.gz, as uint8 ``(count, 48, 48)``, streamed: no full parse."""

    def read(usage: str, count: int) -> np.ndarray:
        faces = []
        with gzip.open(fer2013_root / "fer2013.csv.gz", "rt") as lines:
            for line in lines:
                if line.rstrip().endswith("," + usage):
                    faces.append(np.array(line.split(",")[1].split(), np.uint8).reshape(48, 48))
                    if len(faces) == count:
                        break
        return np.stack(faces)

    return read


USAGES = ("Training",) * 6 + ("PublicTest",) * 3 + ("PrivateTest",) * 3


def fer2013_rows(
    n_per_usage: dict[str, int] | None = None, seed: int = 0, learnable: bool = False
) -> list[tuple[int, str, str]]:
    """(emotion, pixels, Usage) rows, emotions cycling 0..6; pixels random, or with
    ``learnable=True`` a class-dependent brightness plus noise, so a model can learn them."""
    rng = np.random.default_rng(seed)
    usages = USAGES if n_per_usage is None else [u for u, n in n_per_usage.items() for _ in range(n)]
    rows = []
    for i, usage in enumerate(usages):
        if learnable:
            pixels = np.clip(30 * (i % 7) + 20 + rng.normal(0, 12, 48 * 48), 0, 255).astype(int)
        else:
            pixels = rng.integers(0, 256, 48 * 48)
        rows.append((i % 7, " ".join(map(str, pixels)), usage))
    return rows


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


@pytest.fixture
def run_ferlab() -> Callable[..., subprocess.CompletedProcess]:
    """Run ``ferlab ARGS...`` in a subprocess (about 10 s: it imports torch); its result, text output."""

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", "from ferlab.cli import main; main()", *args],
            capture_output=True,
            text=True,
            timeout=300,
        )

    return run


@pytest.fixture
def assert_one_line_error() -> Callable[[subprocess.CompletedProcess, str], None]:
    """Check a CLI result is exit code 2 with ``message`` on one stderr line and no traceback."""

    def check(result: subprocess.CompletedProcess, message: str) -> None:
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr

    return check
