"""The training loop: learning, determinism, crash + resume, DDP, files written."""

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ferlab.engine import load_config, load_model, train
from ferlab.errors import FerlabError

FAST = dict(model="lenet_like", epochs=3, batch_size=32, lr=0.02, device="cpu", threads=1)
TIMING = ("epoch_seconds", "images_per_s")


def metrics_rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as handle:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(handle)]


def test_training_learns_and_writes_the_run_folder(tiny_fer2013: Path, tmp_path: Path) -> None:
    result = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), **FAST))
    run = result.run_dir
    assert result.best_val_acc > 0.6, "a learnable toy set must be learnt"
    for name in ("config.yaml", "last.pt", "best.pt", "metrics.csv", "metrics.json", "learning_curves.png"):
        assert (run / name).is_file(), name
    assert list((run / "tb").glob("events.out.tfevents.*"))
    assert len(metrics_rows(run)) == 3
    summary = json.loads((run / "metrics.json").read_text())
    assert summary["best_val_acc"] == pytest.approx(result.best_val_acc)
    model, record = load_model(run)
    assert record["classes"][3] == "happy" and record["metrics"]["epoch"] == result.best_epoch
    assert not any(p.name.endswith(".tmp") for p in run.iterdir())
    plain_file_mode = os.stat(run / "config.yaml").st_mode & 0o777  # written with open(), under the umask
    assert os.stat(run / "best.pt").st_mode & 0o777 == plain_file_mode, "model files are not private temp files"


def test_run_started_from_a_model_file_loads_without_it(tiny_fer2013: Path, tmp_path: Path) -> None:
    first = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "first"), **FAST))
    start = tmp_path / "start.pt"
    (first.run_dir / "best.pt").rename(start)
    options = {"model_options": {"pretrained": str(start)}, "epochs": 1}
    second = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "second"), **{**FAST, **options}))
    assert second.history[0]["val_acc"] > 0.6, "one epoch from a trained model keeps what it learnt"
    start.unlink()
    model, record = load_model(second.run_dir)
    assert "pretrained" not in record["model_options"]
    assert model.classifier.weight.shape[0] == 7


def test_on_epoch_returning_true_stops_the_run_after_that_epoch(tiny_fer2013: Path, tmp_path: Path) -> None:
    seen: list[int] = []

    def stop_after_two(row: dict[str, float]) -> bool:
        seen.append(int(row["epoch"]))
        return row["epoch"] >= 2

    result = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), **FAST), on_epoch=stop_after_two)
    assert seen == [1, 2]
    assert [row["epoch"] for row in result.history] == [1, 2]
    assert len(metrics_rows(result.run_dir)) == 2
    assert torch.load(result.run_dir / "last.pt", weights_only=False)["epoch"] == 2


def test_same_seed_same_metrics(tiny_fer2013: Path, tmp_path: Path) -> None:
    options = dict(FAST, epochs=2, data_root=str(tiny_fer2013), aug="strong")
    train(load_config(out=str(tmp_path / "a"), **options))
    train(load_config(out=str(tmp_path / "b"), **options))
    train(load_config(out=str(tmp_path / "c"), seed=1, **options))
    assert metrics_rows(tmp_path / "a") == metrics_rows(tmp_path / "b")
    assert metrics_rows(tmp_path / "a") != metrics_rows(tmp_path / "c")


def _ferlab_train(data: Path, out: Path, *extra: str) -> subprocess.Popen:
    args = [
        "--model",
        "lenet_like",
        "--data-root",
        str(data),
        "--out",
        str(out),
        "--epochs",
        "4",
        "--batch-size",
        "16",
        "--lr",
        "0.02",
        "--aug",
        "basic",
        "--device",
        "cpu",
        *extra,
    ]
    return subprocess.Popen(
        [sys.executable, "-c", "from ferlab.cli import main; main()", "train", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_kill_mid_epoch_then_resume_matches_an_uninterrupted_run(tiny_fer2013: Path, tmp_path: Path) -> None:
    straight = _ferlab_train(tiny_fer2013, tmp_path / "straight")
    assert straight.wait(timeout=300) == 0, straight.stderr.read()
    crashed = _ferlab_train(tiny_fer2013, tmp_path / "crashed")
    last = tmp_path / "crashed" / "last.pt"
    deadline = time.monotonic() + 240
    while not last.is_file():  # epoch 1 checkpointed: the kill lands in a later epoch
        assert crashed.poll() is None and time.monotonic() < deadline, crashed.stderr.read()
        time.sleep(0.05)
    crashed.send_signal(signal.SIGKILL)
    crashed.wait()
    assert len(metrics_rows(tmp_path / "crashed")) < 4, "the kill must land before the run finished"
    resumed = _ferlab_train(tiny_fer2013, tmp_path / "crashed", "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    assert metrics_rows(tmp_path / "crashed") == metrics_rows(tmp_path / "straight")
    best_a, _ = load_model(tmp_path / "straight")
    best_b, _ = load_model(tmp_path / "crashed")
    for a, b in zip(best_a.state_dict().values(), best_b.state_dict().values()):
        assert torch.equal(a, b)


def test_torchrun_two_cpu_processes_agree_on_weights(tiny_fer2013: Path, tmp_path: Path) -> None:
    worker = Path(__file__).with_name("ddp_worker.py")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            "--master_port=29533",
            str(worker),
            str(tiny_fer2013),
            str(tmp_path / "ddp"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rank0 = torch.load(tmp_path / "ddp" / "rank0.pt", weights_only=True)
    rank1 = torch.load(tmp_path / "ddp" / "rank1.pt", weights_only=True)
    for name, tensor in rank0.items():
        assert torch.equal(tensor, rank1[name]), name
    rows = metrics_rows(tmp_path / "ddp")
    assert len(rows) == 1 and float(rows[0]["train_acc"]) > 0


def test_a_non_finite_loss_stops_the_run_with_one_line(tiny_fer2013: Path, tmp_path: Path) -> None:
    config = load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), **{**FAST, "lr": 1e30})
    with pytest.raises(FerlabError, match=r"^epoch 1: train_loss is nan \(not finite\); training stopped, no epoch"):
        train(config)
    assert not (tmp_path / "run" / "best.pt").exists() and not (tmp_path / "run" / "metrics.json").exists()


def test_a_loss_going_non_finite_keeps_the_last_good_checkpoint(
    tiny_fer2013: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ferlab.engine.trainer import _Run

    validate = _Run._validate

    def diverging_from_epoch_3(run: _Run) -> dict[str, float]:
        row = validate(run)
        return {**row, "val_loss": float("inf")} if len(run.history) == 2 else row

    monkeypatch.setattr(_Run, "_validate", diverging_from_epoch_3)
    config = load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), **FAST)
    with pytest.raises(FerlabError, match=r"^epoch 3: val_loss is inf .*last.pt keeps epoch 2; try a lower --lr"):
        train(config)
    assert torch.load(tmp_path / "run" / "last.pt", weights_only=False)["epoch"] == 2
    assert len(metrics_rows(tmp_path / "run")) == 2 and (tmp_path / "run" / "best.pt").is_file()
