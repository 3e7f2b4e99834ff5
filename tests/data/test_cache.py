"""The parsed-array cache: hit, invalidation on change, corrupt entries, unwritable dirs."""

import os
from pathlib import Path

import numpy as np
import pytest

import ferlab.data.fer2013 as fer2013_module
from ferlab.data import load_dataset


@pytest.fixture
def parse_calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[Path]:
    """Record every real CSV parse, with the cache in a fresh folder."""
    monkeypatch.setenv("FERLAB_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[Path] = []
    real = fer2013_module.parse_fer2013_csv

    def counting(path, *args, **kwargs):
        calls.append(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(fer2013_module, "parse_fer2013_csv", counting)
    return calls


def test_second_read_comes_from_cache(fer2013_csv: Path, parse_calls: list[Path], tmp_path: Path) -> None:
    first = load_dataset("fer2013", fer2013_csv, "train")
    second = load_dataset("fer2013", fer2013_csv, "test")
    third = load_dataset("fer2013", fer2013_csv, "train")
    assert len(parse_calls) == 1
    assert np.array_equal(first.images, third.images) and len(second) == 3
    assert len(list((tmp_path / "cache").glob("fer2013-csv-v1-*.npz"))) == 1


def test_changed_file_is_parsed_again(fer2013_csv: Path, parse_calls: list[Path], csv_writer, rows_factory) -> None:
    load_dataset("fer2013", fer2013_csv, "train")
    csv_writer(fer2013_csv, rows_factory(seed=5))
    stat = fer2013_csv.stat()
    os.utime(fer2013_csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = load_dataset("fer2013", fer2013_csv, "train")
    assert len(parse_calls) == 2
    assert np.array_equal(changed.images, load_dataset("fer2013", fer2013_csv, "train").images)
    assert len(parse_calls) == 2


def test_new_entry_replaces_the_stale_one_of_its_file_only(
    fer2013_csv: Path, parse_calls: list[Path], tmp_path: Path, csv_writer, rows_factory
) -> None:
    (tmp_path / "other").mkdir()
    other = csv_writer(tmp_path / "other" / "fer2013.csv", rows_factory(seed=3))
    load_dataset("fer2013", fer2013_csv, "train")
    load_dataset("fer2013", other, "train")
    before = {entry.name for entry in (tmp_path / "cache").glob("*.npz")}
    stat = fer2013_csv.stat()
    os.utime(fer2013_csv, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # touched: a new entry
    load_dataset("fer2013", fer2013_csv, "train")
    after = {entry.name for entry in (tmp_path / "cache").glob("*.npz")}
    assert len(parse_calls) == 3 and len(before) == len(after) == 2
    assert len(before & after) == 1  # the other file's entry stays; the touched file's old entry is gone
    load_dataset("fer2013", other, "train")
    assert len(parse_calls) == 3


def test_corrupt_cache_entry_is_rebuilt(fer2013_csv: Path, parse_calls: list[Path], tmp_path: Path) -> None:
    load_dataset("fer2013", fer2013_csv, "train")
    (entry,) = (tmp_path / "cache").glob("*.npz")
    entry.write_bytes(b"garbage")
    assert len(load_dataset("fer2013", fer2013_csv, "train")) == 6
    assert len(parse_calls) == 2 and entry.stat().st_size > 100


def test_unwritable_cache_only_warns(fer2013_csv: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    monkeypatch.setenv("FERLAB_CACHE_DIR", str(blocker / "cache"))
    with pytest.warns(UserWarning, match="could not write the dataset cache"):
        assert len(load_dataset("fer2013", fer2013_csv, "train")) == 6


def test_cache_can_be_disabled(fer2013_csv: Path, parse_calls: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FERLAB_NO_CACHE", "1")
    load_dataset("fer2013", fer2013_csv, "train")
    load_dataset("fer2013", fer2013_csv, "train")
    assert len(parse_calls) == 2
