"""`ferlab eval` end to end on a model file and a fer2013.csv written here."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from ferlab.cli import main
from ferlab.data.ferplus import VOTE_COLUMNS
from ferlab.data.labels import FER2013_CLASSES, FERPLUS_CLASSES, map_labels


@pytest.fixture
def run_dir(model_file: Path, tmp_path: Path) -> Path:
    """A private copy of the trained run folder (default outputs are written into it)."""
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(model_file, run / "best.pt")
    return run


@pytest.fixture
def csv(brightness_csv, tmp_path: Path) -> Path:
    return brightness_csv(tmp_path / "fer2013.csv", {"PublicTest": 14, "PrivateTest": 21})


def _eval(*args: str) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["eval", *map(str, args)])
    assert exited.value.code == 0


def test_eval_writes_every_output_with_every_value_filled(run_dir: Path, csv: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "report"
    _eval(run_dir, "--data", "fer2013", "--data-root", csv, "--out", out, "--batch-size", "8")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["command"].startswith(f"ferlab eval {run_dir} --data fer2013 --data-root {csv} --split test")
    assert "--batch-size 8" in metrics["command"]
    assert (metrics["model"], metrics["data"], metrics["split"], metrics["n_images"]) == (
        "lenet_like",
        "fer2013",
        "test",
        21,
    )
    assert (metrics["tta"], metrics["subset"], metrics["occlusion"]) == ("none", None, "none")
    assert metrics["accuracy"] > 0.8 and 0 < metrics["macro_f1"] <= 1
    calibration = metrics["calibration"]
    assert calibration["fitted_on"] == "fer2013/val" and calibration["n_fit_images"] == 14
    assert calibration["weighting"] == "images"
    assert metrics["temperature"] == calibration["temperature"] > 0
    assert {"ece_before", "ece_after", "nll_before", "nll_after"} <= set(calibration)
    assert metrics["cross_dataset"] is None and metrics["notes"] == []

    per_class = pd.read_csv(out / "per_class.csv", index_col="class")
    assert per_class.index.tolist() == list(FER2013_CLASSES)
    assert per_class.columns.tolist() == ["precision", "recall", "f1", "support"]
    assert per_class.notna().all().all() and per_class["support"].sum() == 21
    confusion = pd.read_csv(out / "confusion.csv", index_col=0)
    assert confusion.shape == (7, 7) and confusion.notna().all().all() and confusion.to_numpy().sum() == 21
    assert (out / "confusion.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    printed = capsys.readouterr().out
    assert "accuracy" in printed and "macro F1" in printed and str(out) in printed


def test_the_balanced_point_is_calibrated_with_every_class_weighing_the_same(
    run_dir: Path, csv: Path, tmp_path: Path, capsys
) -> None:
    record = torch.load(run_dir / "best.pt", weights_only=False)
    torch.save({**record, "class_prior": [0.3, 0.05, 0.1, 0.25, 0.1, 0.05, 0.15]}, run_dir / "best.pt")
    out = tmp_path / "report"
    _eval(run_dir, "--data-root", csv, "--prior", "balanced", "--out", out)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["prior"] == "balanced" and metrics["calibration"]["weighting"] == "classes"
    assert "ECE at T (classes weigh the same)" in capsys.readouterr().out


def test_default_out_dir_names_tta_occlusion_and_subset(run_dir: Path, csv: Path, tmp_path: Path) -> None:
    subset = tmp_path / "rows.txt"
    subset.write_text("# three PrivateTest rows\n14\n20\n34\n")
    _eval(run_dir, "--data-root", csv, "--tta", "flip", "--occlude", "mouth", "--subset", subset)
    out = run_dir / "eval_fer2013_test_tta-flip_occlude-mouth_subset-rows"
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["n_images"], metrics["tta"], metrics["occlusion"]) == (3, "flip", "mouth")
    assert metrics["subset"] == str(subset)


def test_the_onnx_backend_scores_a_graph_as_torch_scores_the_network(run_dir: Path, csv: Path, tmp_path: Path) -> None:
    """``--backend onnx`` runs the model's ONNX graph on ONNX Runtime (a ``.onnx`` file as it is, a run folder
    exported once), with the same views, operating point and temperature fit: a float32 graph makes the same
    decisions and figures as the trained network, and the report says which backend ran (its default folder too)."""
    graph = tmp_path / "model.onnx"
    with pytest.raises(SystemExit) as exited:
        main(["export", str(run_dir), "--onnx", str(graph)])
    assert exited.value.code == 0
    _eval(run_dir, "--data-root", csv, "--tta", "flip", "--out", tmp_path / "torch")
    network = json.loads((tmp_path / "torch" / "metrics.json").read_text())
    assert network["backend"] == "torch"
    for model, folder in ((graph, tmp_path), (run_dir, run_dir)):
        _eval(model, "--data-root", csv, "--tta", "flip", "--backend", "onnx")
        exported = json.loads((folder / "eval_fer2013_test_onnx_tta-flip" / "metrics.json").read_text())
        assert exported["backend"] == "onnx" and exported["weights"] == str(model)
        for key in ("n_images", "tta", "accuracy", "balanced_accuracy", "macro_f1", "per_class"):
            assert exported[key] == network[key], (model, key)
        assert exported["temperature"] == pytest.approx(network["temperature"], rel=1e-3)


def test_fer2013_model_on_ferplus_names_scores_shared_classes(run_dir: Path, csv: Path, tmp_path: Path) -> None:
    """fer2013new.csv beside the csv: row i votes for its FER2013 emotion, or for contempt when i % 5 == 4."""
    votes = np.zeros((35, len(VOTE_COLUMNS)), np.int64)
    emotions = map_labels(np.arange(35) % 7, FER2013_CLASSES, FERPLUS_CLASSES)
    votes[np.arange(35), np.where(np.arange(35) % 5 == 4, FERPLUS_CLASSES.index("contempt"), emotions)] = 10
    table = pd.DataFrame(votes, columns=VOTE_COLUMNS)
    table.insert(0, "Image name", [f"fer{i:07d}.png" for i in range(35)])
    table.insert(0, "Usage", ["PublicTest"] * 14 + ["PrivateTest"] * 21)
    table.to_csv(tmp_path / "fer2013new.csv", index=False)
    subset = tmp_path / "names.txt"
    subset.write_text("fer0000015.png\nfer0000019.png\nfer0000020.png\n")  # 19 votes contempt
    _eval(run_dir, "--data", "ferplus", "--data-root", tmp_path, "--mode", "majority", "--subset", subset)
    metrics = json.loads((run_dir / "eval_ferplus_test_subset-names" / "metrics.json").read_text())
    assert metrics["n_images"] == 2 and metrics["data_options"] == {"mode": "majority"}
    assert metrics["cross_dataset"]["dropped_by_class"] == {"contempt": 1}
    assert list(metrics["per_class"]) == list(FER2013_CLASSES)


def test_dataset_without_val_split_skips_calibration_and_says_so(
    run_dir: Path, brightness_csv, tmp_path: Path, capsys
) -> None:
    csv = brightness_csv(tmp_path / "fer2013.csv", {"PrivateTest": 7})
    _eval(run_dir / "best.pt", "--data-root", csv, "--out", tmp_path / "out")
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["temperature"] is None and "no val split" in metrics["calibration"]["skipped"]
    assert "temperature scaling skipped" in capsys.readouterr().out


def test_unlabeled_split_is_a_one_line_error(run_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "train.csv").write_text("emotion,pixels\n0," + " ".join(["9"] * 2304) + "\n")
    (tmp_path / "test.csv").write_text("pixels\n" + " ".join(["9"] * 2304) + "\n")
    with pytest.raises(SystemExit) as exited:
        main(["eval", str(run_dir), "--data-root", str(tmp_path), "--split", "val"])
    assert exited.value.code == 2
    assert "fer2013 split 'val' has no labels" in capsys.readouterr().err


BAD_INPUTS = {
    "missing": "no such model file",
    "corrupt": "not a ferlab model file",
    "bad-tta": "tta = 'twice': must be one of none, flip, tencrop",
    "onnx-on-torch": "an ONNX file is scored on ONNX Runtime: add --backend onnx",
}


@pytest.fixture(scope="module")
def bad_input_runs(model_file: Path, brightness_csv, tmp_path_factory) -> dict[str, tuple[int, str]]:
    """Exit code and stderr of `ferlab eval` in a fresh interpreter for each bad input, run concurrently."""
    folder = tmp_path_factory.mktemp("bad")
    csv = brightness_csv(folder / "fer2013.csv", {"PrivateTest": 7})
    (folder / "corrupt.pt").write_bytes(b"not a checkpoint")
    weights = {
        "missing": folder / "absent.pt",
        "corrupt": folder / "corrupt.pt",
        "bad-tta": model_file,
        "onnx-on-torch": folder / "model.onnx",
    }
    processes = {
        case: subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from ferlab.cli import main; main()",
                "eval",
                str(weights[case]),
                "--data-root",
                str(csv),
                "--tta",
                "twice" if case == "bad-tta" else "none",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for case in BAD_INPUTS
    }
    stderr = {case: process.communicate(timeout=180)[1] for case, process in processes.items()}
    return {case: (process.returncode, stderr[case]) for case, process in processes.items()}


@pytest.mark.parametrize("case", BAD_INPUTS)
def test_bad_input_exits_2_with_one_line_and_no_traceback(bad_input_runs, case: str) -> None:
    code, stderr = bad_input_runs[case]
    assert code == 2
    assert BAD_INPUTS[case] in stderr and stderr.startswith("error:")
    assert len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr
