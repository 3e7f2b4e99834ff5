"""`ferlab data info` and `ferlab data export-images`, run as a user runs them."""

from pathlib import Path

import numpy as np
import pytest

from ferlab.cli import main
from ferlab.data import load_dataset


def run_in_process(capsys: pytest.CaptureFixture, *args: str) -> str:
    """Run the CLI in this process (so fixtures apply); return its stdout."""
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    assert exit_info.value.code == 0
    return capsys.readouterr().out


def test_info_prints_splits_and_counts(fer2013_csv: Path, capsys: pytest.CaptureFixture) -> None:
    out = run_in_process(capsys, "data", "info", str(fer2013_csv.parent))
    assert "12 images, 48x48 grayscale" in " ".join(out.split())
    happy_row = next(line for line in out.splitlines() if "happy" in line)
    assert happy_row.split()[1:6] == ["happy", "│", "1", "│", "0"]  # train 1, val 0 (rows 0-5 are 0..5)


def test_export_then_read_back_as_folder(fer2013_csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "exported"
    printed = run_in_process(capsys, "data", "export-images", str(fer2013_csv), str(out))
    assert "train: 6 images written" in printed
    for split in ("train", "val", "test"):
        original = load_dataset("fer2013", fer2013_csv, split)
        copy = load_dataset("folder", out, split)
        order = np.argsort([int(Path(i).stem) for i in copy.ids])
        assert np.array_equal(copy.images[order], original.images)
        assert np.array_equal(copy.labels[order], original.labels)


def test_export_refuses_non_empty_folder(fer2013_csv: Path, tmp_path: Path, run_ferlab) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    result = run_ferlab("data", "export-images", str(fer2013_csv), str(tmp_path / "out"))
    assert result.returncode == 2 and "not empty; pass --force" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["data", "info", "/no/such/place"], "/no/such/place: no such file or folder"),
        (["data", "info", "{tmp}", "--data", "kdef"], "unknown dataset 'kdef'"),
        (["data", "info", "{tmp}", "--data", "fer2013"], "no FER2013 file found"),
    ],
)
def test_errors_are_one_line_without_traceback(tmp_path: Path, args: list[str], message: str, run_ferlab) -> None:
    result = run_ferlab(*[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_version(run_ferlab) -> None:
    result = run_ferlab("--version")
    assert result.returncode == 0 and result.stdout.startswith("ferlab ")
