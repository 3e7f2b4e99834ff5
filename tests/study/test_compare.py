"""`ferlab compare` end to end on two tiny models and a small fer2013.csv written here."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml
from scipy.stats import binomtest
from torch import nn

from ferlab.cli import main
from ferlab.data import load_dataset
from ferlab.engine import load_config
from ferlab.evaluate import evaluate_model
from ferlab.models.files import load_model
from ferlab.models.profile import measure_inference_speed
from ferlab.study.compare_report import COLUMNS, NO_GPU

PNG = b"\x89PNG\r\n\x1a\n"
TEXT_COLUMNS = ("model", "arch", "run")
CUDA_COLUMNS = ("cuda_latency_ms", "cuda_images_per_s")


@pytest.fixture
def small_fer2013(tmp_path: Path, csv_writer, rows_factory) -> Path:
    """fer2013.csv with 224 learnable training rows and 28 in each test split."""
    rows = rows_factory({"Training": 224, "PublicTest": 28, "PrivateTest": 28}, learnable=True)
    return csv_writer(tmp_path / "fer2013.csv", rows)


def compare(*args: object) -> None:
    """Run `ferlab compare` with fast protocol options; it must exit 0."""
    fast = ("--batch-size", "32", "--lr", "0.02", "--device", "cpu", "--threads", "1", "--timing-seconds", "0.05")
    with pytest.raises(SystemExit) as exited:
        main(["compare", *map(str, args), *fast])
    assert exited.value.code == 0


def compare_error(args: list[str], capsys) -> str:
    """Run `ferlab compare` expecting a one-line error (exit 2, no traceback); return that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:
        main(["compare", *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_two_models_fill_every_column_then_finished_runs_are_reused(small_fer2013: Path, tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "results"
    args = (
        "--models",
        "lenet_like,deep_emotion",
        "--data-root",
        small_fer2013,
        "--epochs",
        "3",
        "--budget-minutes",
        "0",
        "--name",
        "tiny",
        "--runs-dir",
        runs,
        "--out",
        out,
    )
    compare(*args)

    table = pd.read_csv(out / "compare_tiny.csv", dtype=str, keep_default_na=False)
    assert table.columns.tolist() == [column for column, _, _ in COLUMNS]
    assert table["model"].tolist() == ["lenet_like", "deep_emotion"]
    assert table["run"].tolist() == ["trained", "trained"]
    assert (table != "").all().all(), "every cell is filled"
    cuda = torch.cuda.is_available()
    for column in table.columns.drop([*TEXT_COLUMNS, "mcnemar_p", *([] if cuda else CUDA_COLUMNS)]):
        assert (table[column].astype(float) > 0).all(), column
    assert ((table["mcnemar_p"].astype(float) >= 0) & (table["mcnemar_p"].astype(float) <= 1)).all()
    if not cuda:
        assert (table[list(CUDA_COLUMNS)] == NO_GPU).all().all()
    numbers = table.set_index("model")
    assert numbers["epochs"].astype(int).tolist() == [1, 1], "a 0-minute budget stops after the first epoch"
    assert int(numbers.loc["deep_emotion", "params"]) < int(numbers.loc["lenet_like", "params"])
    assert float(numbers.loc["deep_emotion", "gflops"]) < float(numbers.loc["lenet_like", "gflops"])
    assert (numbers[["best_val_acc", "test_acc", "test_macro_f1"]].astype(float) <= 1).all().all()
    for model in ("lenet_like", "deep_emotion"):
        summary = json.loads((runs / model / "metrics.json").read_text())
        assert len(summary["history"]) == 1 and summary["epochs"] == 3
        assert float(numbers.loc[model, "best_val_acc"]) == pytest.approx(summary["best_val_acc"])
        assert yaml.safe_load((runs / model / "config.yaml").read_text())["model"] == model

    report = (out / "compare_tiny.md").read_text()
    assert "`ferlab compare --models lenet_like,deep_emotion " in report and "--budget-minutes 0.0" in report
    assert "| model | registry name | run | epochs | params | GFLOPs |" in report
    assert "| lenet_like | lenet_like | trained | 1 |" in report
    assert "epochs: 3" in report and "lr: 0.02" in report and f"torch {torch.__version__}" in report
    figures = ["compare_tiny_acc_vs_gflops.png", "compare_tiny_acc_vs_latency.png", "compare_tiny_val_acc.png"]
    for figure in figures:
        assert (out / figure).read_bytes()[:8] == PNG
    tables = ["compare_tiny.md", "compare_tiny.csv", "compare_tiny_recall.csv"]
    assert sorted(p.name for p in out.iterdir()) == sorted([*tables, *figures]), "no temporary files left"
    recall = pd.read_csv(out / "compare_tiny_recall.csv")
    assert recall[["model", "condition"]].values.tolist() == [["lenet_like", "test"], ["deep_emotion", "test"]]
    assert recall.columns[2:].tolist() == ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"]

    checkpoints = {model: (runs / model / "last.pt").stat().st_mtime_ns for model in ("lenet_like", "deep_emotion")}
    compare(*args)
    again = pd.read_csv(out / "compare_tiny.csv", dtype=str, keep_default_na=False)
    assert again["run"].tolist() == ["reused", "reused"]
    assert again["test_acc"].tolist() == table["test_acc"].tolist()
    assert {model: (runs / model / "last.pt").stat().st_mtime_ns for model in checkpoints} == checkpoints


def test_unfinished_run_is_resumed_to_the_protocols_epochs(small_fer2013: Path, tmp_path: Path) -> None:
    runs, out = tmp_path / "runs", tmp_path / "results"
    args = ("--models", "deep_emotion", "--data-root", small_fer2013, "--limit", "64", "--runs-dir", runs, "--out", out)
    compare(*args, "--epochs", "2", "--budget-minutes", "0")
    (runs / "deep_emotion" / "metrics.json").unlink()  # as if the run had been killed after epoch 1
    compare(*args, "--epochs", "2")
    table = pd.read_csv(out / "compare_fer2013.csv")
    assert (table.loc[0, "run"], table.loc[0, "epochs"]) == ("resumed", 2)


def test_unknown_model_is_a_one_line_error(small_fer2013: Path, tmp_path: Path, capsys) -> None:
    err = compare_error(
        [
            "--models",
            "lenet_like,lenet_lik",
            "--data-root",
            str(small_fer2013),
            "--out",
            str(tmp_path / "results"),
            "--runs-dir",
            str(tmp_path / "runs"),
        ],
        capsys,
    )
    assert "unknown model 'lenet_lik'; did you mean lenet_like" in err
    assert not (tmp_path / "results").exists() and not (tmp_path / "runs").exists()


def test_run_folder_of_another_protocol_is_a_one_line_error(small_fer2013: Path, tmp_path: Path, capsys) -> None:
    run = tmp_path / "runs" / "deep_emotion"
    run.mkdir(parents=True)
    other = load_config(model="deep_emotion", data_root=str(small_fer2013), out=str(run), lr=0.1)
    (run / "config.yaml").write_text(yaml.safe_dump(other.to_dict()))
    err = compare_error(
        [
            "--models",
            "lenet_like,deep_emotion",
            "--data-root",
            str(small_fer2013),
            "--lr",
            "0.02",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--out",
            str(tmp_path / "results"),
        ],
        capsys,
    )
    assert f"{run}: trained with lr 0.1, not 0.02 as in this comparison" in err
    assert not (tmp_path / "runs" / "lenet_like").exists(), "checked before anything trains"


def test_inference_speed_is_timed_for_about_the_given_time() -> None:
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.LazyLinear(7))
    model(torch.zeros(1, 1, 48, 48))
    speed = measure_inference_speed(model.train(), (1, 48, 48), torch.device("cpu"), seconds=0.05, batch_size=8)
    assert speed.device == "cpu" and speed.batch_size == 8
    assert 0 < speed.latency_ms < 1000 and speed.images_per_s > 0
    assert not model.training


def test_entries_give_each_row_its_own_options_label_and_paired_statistics(small_fer2013: Path, tmp_path: Path) -> None:
    entries = tmp_path / "entries.yaml"
    entries.write_text(
        yaml.safe_dump(
            [
                {"label": "de_paper", "model": "deep_emotion"},
                {
                    "label": "de_wide_no_stn",
                    "model": "deep_emotion",
                    "model_options": {"width": 16, "stn": False},
                    "options": {"label_smoothing": 0.2},
                },
            ]
        )
    )
    runs, out = tmp_path / "runs", tmp_path / "results"
    notes = tmp_path / "findings.md"
    notes.write_text("- de_paper and de_wide_no_stn are within noise.\n")
    compare(
        "--entries",
        entries,
        "--data-root",
        small_fer2013,
        "--epochs",
        "1",
        "--name",
        "entries",
        "--runs-dir",
        runs,
        "--out",
        out,
        "--occlude",
        "eyes,random",
        "--notes",
        notes,
        "--pairs",
        "de_wide_no_stn:de_paper",
    )

    table = pd.read_csv(out / "compare_entries.csv").set_index("model")
    assert table.index.tolist() == ["de_paper", "de_wide_no_stn"]
    assert table["arch"].tolist() == ["deep_emotion", "deep_emotion"]
    assert table.loc["de_wide_no_stn", "params"] != table.loc["de_paper", "params"], "model_options reach the model"
    saved = yaml.safe_load((runs / "de_wide_no_stn" / "config.yaml").read_text())
    assert saved["model_options"] == {"width": 16, "stn": False} and saved["label_smoothing"] == 0.2
    assert yaml.safe_load((runs / "de_paper" / "config.yaml").read_text())["label_smoothing"] == 0.0
    assert ((table["test_acc_low"] <= table["test_acc"]) & (table["test_acc"] <= table["test_acc_high"])).all()
    best = table["test_acc"].idxmax()
    assert table.loc[best, "mcnemar_p"] == 1.0
    report = (out / "compare_entries.md").read_text()
    assert "label: de_wide_no_stn" in report and "McNemar" in report
    assert "## Under occlusion" in report and "| model | eyes: test acc |" in report
    assert "## Findings\n\n- de_paper and de_wide_no_stn are within noise.\n" in report

    test_set = load_dataset("fer2013", small_fer2013, "test")
    for label in table.index:
        model, record = load_model(runs / label)
        for mode in ("eyes", "random"):
            scored = evaluate_model(model, test_set, record["classes"], device="cpu", occlusion=mode)
            assert table.loc[label, f"test_acc_{mode}"] == pytest.approx(scored.metrics["accuracy"])
            assert table.loc[label, f"test_acc_{mode}_low"] <= table.loc[label, f"test_acc_{mode}"]
    assert table.loc[table["test_acc_eyes"].idxmax(), "mcnemar_p_eyes"] == 1.0
    recall = pd.read_csv(out / "compare_entries_recall.csv")
    assert recall["condition"].tolist() == ["test", "eyes", "random"] * 2
    hand = evaluate_model(load_model(runs / "de_paper")[0], test_set, record["classes"], device="cpu", occlusion="eyes")
    assert recall.iloc[1, 2:].tolist() == pytest.approx([c["recall"] for c in hand.metrics["per_class"].values()])

    pairs = pd.read_csv(out / "compare_entries_pairs.csv")
    assert pairs["pair"].unique().tolist() == ["de_wide_no_stn vs de_paper"]
    assert pairs["condition"].tolist() == ["test", "eyes", "random"] and "## Head to head" in report
    for pair in pairs.itertuples():
        mode = "none" if pair.condition == "test" else pair.condition
        right = {}
        for label in ("de_wide_no_stn", "de_paper"):
            model, record = load_model(runs / label)
            scored = evaluate_model(model, test_set, record["classes"], device="cpu", occlusion=mode)
            right[label] = (scored.logits.argmax(1) == scored.labels).numpy()
        only_a = int((right["de_wide_no_stn"] & ~right["de_paper"]).sum())
        only_b = int((right["de_paper"] & ~right["de_wide_no_stn"]).sum())
        assert (pair.only_a, pair.only_b) == (only_a, only_b)
        expected_p = binomtest(min(only_a, only_b), only_a + only_b, 0.5).pvalue if only_a + only_b else 1.0
        assert pair.mcnemar_p == pytest.approx(expected_p)
        assert pair.points == pytest.approx(100 * (right["de_wide_no_stn"].mean() - right["de_paper"].mean()))


def test_bad_entries_are_one_line_errors(small_fer2013: Path, tmp_path: Path, capsys) -> None:
    entries = tmp_path / "entries.yaml"
    base = ["--entries", str(entries), "--data-root", str(small_fer2013), "--runs-dir", str(tmp_path / "runs")]
    entries.write_text(yaml.safe_dump([{"model": "deep_emotion"}, {"model": "deep_emotion"}]))
    assert "model 'deep_emotion' is listed twice" in compare_error(base, capsys)
    entries.write_text(yaml.safe_dump([{"model": "deep_emotion", "options": {"lr_typo": 1}}]))
    assert "options may not set lr_typo" in compare_error(base, capsys)
    entries.write_text(yaml.safe_dump([{"model": "deep_emotion", "options": {"lr": float("nan")}}]))
    assert "entry 'deep_emotion': lr = nan: must be > 0 and finite" in compare_error(base, capsys)
    entries.write_text(yaml.safe_dump([{"model": "deep_emotion", "options": {"momentum": 5}}]))
    assert "entry 'deep_emotion': momentum = 5.0: must be >= 0 and < 1" in compare_error(base, capsys)
    entries.write_text(yaml.safe_dump([{"model": "deep_emotion", "widths": [8]}]))
    assert "may only have model, label, model_options, options" in compare_error(base, capsys)
    assert "pass either --models" in compare_error([*base, "--models", "lenet_like"], capsys)
    entries.write_text(yaml.safe_dump([{"model": "deep_emotion"}]))
    assert "unknown occlusion mode 'nose'" in compare_error([*base, "--occlude", "eyes,nose"], capsys)
    assert "--notes nowhere.md: no such file" in compare_error([*base, "--notes", "nowhere.md"], capsys)
    assert "budget_minutes = nan: must be >= 0 and finite" in compare_error([*base, "--budget-minutes", "nan"], capsys)
    assert "timing_seconds = 0.0: must be > 0 and finite" in compare_error([*base, "--timing-seconds", "0"], capsys)
    assert "--pairs deep_emotion:ran: needs two different row labels" in compare_error(
        [*base, "--pairs", "deep_emotion:ran"], capsys
    )
    assert "--pairs deep_emotion: expected LABEL_A:LABEL_B" in compare_error([*base, "--pairs", "deep_emotion"], capsys)


def test_study_entries_build_at_the_matched_compute_budget() -> None:
    """Every row of study 1 builds, and the rows meant to meet the budget measure 0.06 GFLOP within 20%."""
    from ferlab.models import create_model, measure_flops
    from ferlab.study.compare import load_entries

    entries = load_entries(Path(__file__).resolve().parents[2] / "configs" / "studies" / "fer2013_matched_entries.yaml")
    own_size = {"deep_emotion", "deep_emotion_no_stn", "attention_backbone"}  # the paper's size; a part alone
    assert len({entry.label for entry in entries}) == len(entries) == 12
    for entry in entries:
        model = create_model(entry.model, **entry.model_options)
        gflops = measure_flops(model, tuple(model.input_size)) / 1e9
        if entry.label not in own_size:
            assert 0.048 <= gflops <= 0.072, (entry.label, gflops)
