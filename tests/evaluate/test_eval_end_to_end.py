"""`ferlab eval --detector`: labelled photos scored through the application, in a real subprocess."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from ferlab.cli.options import reader_options
from ferlab.errors import FerlabError
from ferlab.evaluate.end_to_end import NO_FACE, PhotoScore, end_to_end_metrics


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """happy/: the astronaut photo (Haar finds her) and a crop of her face (the crop rule takes it);
    neutral/: the coffee photo (no face; too large to be taken for a crop); a broken file."""
    root = tmp_path / "photos"
    (root / "happy").mkdir(parents=True)
    (root / "neutral").mkdir()
    Image.fromarray(data.astronaut()).save(root / "happy" / "astronaut.jpg")
    Image.fromarray(data.astronaut()[80:180, 180:280]).save(root / "happy" / "face_crop.png")  # Haar misses it
    Image.fromarray(data.coffee()).save(root / "neutral" / "coffee.png")
    (root / "neutral" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return root


def _ferlab(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ferlab", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def _eval_photos(model: str, photos: Path, cwd: Path, *options: str) -> subprocess.CompletedProcess:
    """``ferlab eval MODEL`` on the photo folder's every image (split all)."""
    return _ferlab("eval", model, "--data", "folder", "--data-root", str(photos), "--split", "all", *options, cwd=cwd)


def test_photos_are_scored_through_the_detector_and_the_crop_rule(photos: Path, tmp_path: Path) -> None:
    run = _eval_photos("ferlab-ferplus", photos, tmp_path, "--detector", "opencv:min_neighbors=5")  # the default
    assert run.returncode == 0, run.stderr
    out = tmp_path / "eval_folder_all_e2e-opencv-min_neighbors=5_ferlab-ferplus"  # shipped model: current folder
    record = json.loads((out / "metrics.json").read_text())
    assert record["n_images"] == 3 and record["detector"] == "opencv:min_neighbors=5" and record["backend"] == "onnx"
    assert (record["detection_rate"]["count"], record["accuracy_all"]["count"]) == (2, 2)
    assert record["accuracy_all"]["value"] == pytest.approx(2 / 3) and record["accuracy_detected"]["value"] == 1
    low, high = record["accuracy_all"]["low"], record["accuracy_all"]["high"]
    assert 0.2 < low < 2 / 3 < high < 1  # Wilson 95% of 2 of 3: 0.21-0.94
    assert record["found_by"] == {"opencv": 1, "none": 1}
    assert record["confusion"]["neutral"][NO_FACE] == 1 and record["recall_per_class"]["happy"]["value"] == 1
    assert [Path(p["file"]).name for p in record["problems"]] == ["broken.png"]
    with open(out / "predictions.csv") as file:
        rows = {Path(row["file"]).name: row for row in csv.DictReader(file)}
    assert rows["coffee.png"]["predicted"] == NO_FACE and rows["face_crop.png"]["detector"] == "none"
    assert rows["astronaut.jpg"]["predicted"] == "happy" and rows["astronaut.jpg"]["detector"] == "opencv"
    printed = " ".join(run.stdout.split())  # rich wraps at the terminal width
    assert "faces found: 66.7% (95% CI" in printed and "accuracy, images with a face: 100.0%" in printed
    assert record["several_faces"]["count"] == 0 and "more than one face: 0.0% (95% CI" in printed
    assert f"skipped{photos / 'neutral' / 'broken.png'}:" in "".join(run.stdout.split())  # long paths fold


def test_detector_none_and_refusals(photos: Path, tmp_path: Path) -> None:
    run = _eval_photos("ferlab-fer2013", photos, tmp_path, "--detector", "none", "--out", "whole", "--backend", "torch")
    assert run.returncode == 0, run.stderr
    record = json.loads((tmp_path / "whole" / "metrics.json").read_text())
    assert record["detection_rate"]["value"] == 1 and record["found_by"] == {"none": 3}
    assert record["backend"] == "torch"  # asked; the application's choice would be its bundled ONNX graph
    for args, message in (
        (["--detector", "opencv", "--occlude", "eyes"], "cannot be combined with --detector"),
        (["--detector", "opencv", "--holdout", "0.3", "--data", "fer2013"], "--holdout applies"),
        (["--holdout-group", r"(.+)_\d+$"], "--holdout-group needs --holdout"),
    ):
        refused = _ferlab("eval", "ferlab-fer2013", "--data-root", str(photos), "--data", "folder", *args, cwd=tmp_path)
        assert refused.returncode == 2 and message in refused.stderr, refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1


def test_reader_options_refuse_a_holdout_the_reader_would_ignore() -> None:
    assert reader_options("folder", "majority", 0.3, r"(.+)_\d+$") == {"holdout": 0.3, "holdout_group": r"(.+)_\d+$"}
    assert reader_options("ferplus", "probability") == {"mode": "probability"}
    with pytest.raises(FerlabError, match="--holdout applies to the folder reader, not ferplus"):
        reader_options("ferplus", "majority", 0.3)  # it used to be dropped without a word


def test_metrics_count_a_missed_face_as_wrong_only_over_all_images() -> None:
    scores = [
        PhotoScore("a", "happy", "happy", "opencv", 1, 0.9),
        PhotoScore("b", "happy", NO_FACE, None, 0, 0.0),
        PhotoScore("c", "sad", "happy", "opencv", 2, 0.6),
        PhotoScore("d", "sad", "sad", "none", 1, 0.7),
    ]
    metrics = end_to_end_metrics(scores, ["happy", "sad", "angry"])
    assert metrics["accuracy_all"]["value"] == 0.5 and metrics["accuracy_detected"]["value"] == pytest.approx(2 / 3)
    assert metrics["detection_rate"]["value"] == 0.75
    assert (metrics["several_faces"]["count"], metrics["extra_faces"]) == (1, 1), "c: two faces on one photo"
    assert metrics["confusion"]["happy"] == {"happy": 1, "sad": 0, "angry": 0, NO_FACE: 1}
    assert metrics["recall_per_class"]["sad"]["value"] == 0.5 and list(metrics["recall_per_class"]) == ["happy", "sad"]
