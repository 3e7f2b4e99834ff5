"""A small learnable FER2013 file for training tests."""

from pathlib import Path

import pytest


@pytest.fixture
def tiny_fer2013(tmp_path: Path, csv_writer, rows_factory) -> Path:
    """fer2013.csv with 448 learnable training rows and 56 rows in each test split."""
    rows = rows_factory({"Training": 448, "PublicTest": 56, "PrivateTest": 56}, learnable=True)
    return csv_writer(tmp_path / "fer2013.csv", rows)
