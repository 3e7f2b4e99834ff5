"""A small learnable FER2013 file for training tests, and the CLI run as a user runs it."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture
def tiny_fer2013(tmp_path: Path, csv_writer, rows_factory) -> Path:
    """fer2013.csv with 448 learnable training rows and 56 rows in each test split."""
    rows = rows_factory({"Training": 448, "PublicTest": 56, "PrivateTest": 56}, learnable=True)
    return csv_writer(tmp_path / "fer2013.csv", rows)


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
