"""`ferlab sweep`: space files, pruning, the trial budget, two workers on one SQLite study, the report."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pandas as pd
import pytest
import sqlalchemy.exc

from ferlab.cli import main
from ferlab.engine import TrainResult, load_config
from ferlab.errors import FerlabError
from ferlab.study import sweep
from ferlab.study.sweep import PruneOnEpoch, default_storage, open_study, run_sweep
from ferlab.study.sweep_report import write_report
from ferlab.study.sweep_space import load_space, trial_config

REPO = Path(__file__).resolve().parents[2]
FINISHED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@pytest.fixture
def tiny_csv(tmp_path: Path, csv_writer, rows_factory) -> Path:
    rows = rows_factory({"Training": 96, "PublicTest": 14, "PrivateTest": 7}, learnable=True)
    return csv_writer(tmp_path / "fer2013.csv", rows)


def _space(tmp_path: Path, text: str, name: str = "space.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _cli(*args: object) -> int:
    with pytest.raises(SystemExit) as exited:
        main(["sweep", *map(str, args)])
    return exited.value.code


# -- the space file -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["resnet_like", "attention_net"])
def test_example_space_files_are_valid_and_set_real_model_options(model: str) -> None:
    base = load_config(None, model=model)
    space = load_space(REPO / "configs" / "sweeps" / f"{model}.yaml", base)
    assert {"lr", "batch_size", "weight_decay", "optimizer", "aug", "label_smoothing"} <= set(space)
    assert space["lr"].log and space["optimizer"].choices == ("sgd", "adam", "adamw")
    dropout = next(name for name in space if name.endswith(".drop_rate"))
    config = trial_config(base, {dropout: 0.3, "lr": 0.01, "aug": "strong"}, "somewhere")
    expected = {"drop_rate": 0.3} if model == "resnet_like" else {"backbone_kwargs": {"drop_rate": 0.3}}
    assert (config.model_options, config.lr, config.aug, config.out) == (expected, 0.01, "strong", "somewhere")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the search space is empty"),
        ("# nothing but a comment\n", "the search space is empty"),
        ("lr_max: {float: [0.01, 0.1]}\n", "lr_max: unknown hyperparameter"),
        ("data_root: {choice: [a, b]}\n", "data_root: data_root cannot be searched"),
        ("lr: {float: [0.1]}\n", "lr: bad float distribution"),
        ("lr: {float: [0.0, 0.1], log: true}\n", "lr: bad float distribution"),
        ("batch_size: {int: [16, 64.5]}\n", "batch_size: bad int distribution"),
        ("lr: {uniform: [0.01, 0.1]}\n", "lr: expected a mapping with one of float, int or choice"),
        (
            "optimizer: {choice: [sgd, rmsprop]}\n",
            "optimizer: value 'rmsprop' is refused: optimizer = 'rmsprop': must be one of",
        ),
        ("aug: {choice: [basic, feral]}\n", "aug: value 'feral' is refused: aug = 'feral': must be one of"),
        ("model_options.drop_rat: {float: [0.0, 0.5]}\n", "did you mean 'drop_rate'?"),
        ("model_options.drop_rate: {float: [0.0, 1.5]}\n", "value 1.5 is refused: drop_rate must be in [0, 1)"),
    ],
)
def test_bad_space_is_a_one_line_error_naming_file_and_key(tmp_path: Path, capsys, text: str, expected: str) -> None:
    space = _space(tmp_path, text)
    assert _cli("--model", "lenet_like", "--space", space, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {space}") and expected in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_unknown_model_and_missing_space_are_one_line_errors(tmp_path: Path, capsys) -> None:
    space = _space(tmp_path, "lr: {float: [0.01, 0.1]}\n")
    assert _cli("--model", "lenet_lik", "--space", space, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: unknown model 'lenet_lik'; did you mean lenet_like") and "\n" not in err
    assert _cli("--model", "lenet_like", "--out", tmp_path / "out") == 2
    assert capsys.readouterr().err.strip() == "error: no search space given: pass --space SPACE.yaml (or --report-only)"


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////nonexistent/dir/x.db",
        "postgresql://ferlab:s3cret@127.0.0.1:1/ferlab",
        "not a url",
    ],
)
def test_unreachable_storage_is_a_one_line_error(tmp_path: Path, capsys, url: str) -> None:
    space = _space(tmp_path, "lr: {float: [0.01, 0.1]}\n")
    assert _cli("--model", "lenet_like", "--space", space, "--storage", url, "--out", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot open the study storage") and "\n" not in err
    assert "s3cret" not in err


# -- pruning and the trial budget -----------------------------------------------------------------


def test_pruning_callback_stops_a_trial_below_the_median_but_never_at_the_last_epoch() -> None:
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=1))
    good = study.ask()
    assert not any(PruneOnEpoch(good, 3)({"epoch": e, "val_acc": 0.8}) for e in (1, 2, 3))
    study.tell(good, 0.8)
    bad = study.ask()
    callback = PruneOnEpoch(bad, 3)
    assert callback({"epoch": 1, "val_acc": 0.2}) is True and callback.pruned
    assert study.get_trials()[1].intermediate_values == {1: 0.2}
    last = study.ask()
    assert PruneOnEpoch(last, 1)({"epoch": 1, "val_acc": 0.1}) is False


def _fake_train(config, resume=False, console=None, on_epoch=None) -> TrainResult:
    """Training without training: validation accuracy 0.9 - lr for lr below 0.01, else 0.1, every epoch."""
    history = []
    for epoch in range(1, config.epochs + 1):
        history.append({"epoch": epoch, "val_acc": 0.9 - config.lr if config.lr < 0.01 else 0.1})
        if on_epoch(history[-1]):
            break
    return TrainResult(Path(config.out), None, history[0]["val_acc"], 1, history, 0.0)


def test_sweep_prunes_a_bad_trial_keeps_the_budget_and_reports(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(sweep, "train", _fake_train)
    base = load_config(None, model="lenet_like", epochs=4)
    space = load_space(_space(tmp_path, "lr: {float: [1.0e-3, 0.1], log: true}\n"), base)
    study = open_study(default_storage(tmp_path), "fake", seed=0, epochs=base.epochs)
    for lr in (0.001, 0.002, 0.003, 0.004, 0.005, 0.05):  # five good trials, then a bad one
        study.enqueue_trial({"lr": lr})
    run_sweep(study, base, space, 6, tmp_path / "out", command="ferlab sweep ...")
    trials = study.get_trials()
    assert [t.state.name for t in trials] == ["COMPLETE"] * 5 + ["PRUNED"]
    assert trials[-1].user_attrs["epochs"] == 1 and trials[-1].intermediate_values == {1: 0.1}
    assert trials[0].user_attrs["epochs"] == 4 and trials[0].value == pytest.approx(0.899)

    run_sweep(study, base, space, 6, tmp_path / "out")  # the budget is spent: nothing more
    assert len(study.get_trials()) == 6
    run_sweep(study, base, space, 7, tmp_path / "out")
    assert len(study.get_trials(states=FINISHED)) == 7
    with pytest.raises(FerlabError, match="started with config epochs = 4, this worker has 3"):
        run_sweep(study, load_config(None, model="lenet_like", epochs=3), space, 8, tmp_path / "out")

    files = write_report(study, tmp_path / "report")
    assert [f.name for f in files] == ["trials.csv", "sensitivity.png", "importances.png", "sweep.md"]
    table = pd.read_csv(tmp_path / "report" / "trials.csv")
    assert table["number"].tolist() == list(range(7)) and table.loc[5, "state"] == "pruned"
    assert table.columns.tolist() == ["number", "state", "val_acc", "epochs", "seconds", "host", "retry_of", "lr"]
    report = (tmp_path / "report" / "sweep.md").read_text()
    assert "Best: trial 0, val acc 0.8990" in report and "| lr | 1 |" in report
    assert "First worker's command: `ferlab sweep ...`" in report


# -- the command: two workers on one SQLite study -------------------------------------------------


def _worker(data: Path, space: Path, storage: str, out: Path, *extra: object) -> subprocess.Popen:
    args = [
        "--model",
        "lenet_like",
        "--space",
        space,
        "--trials",
        "4",
        "--data",
        "fer2013",
        "--data-root",
        data,
        "--epochs",
        "1",
        "--limit",
        "32",
        "--threads",
        "1",
        "--device",
        "cpu",
        "--storage",
        storage,
        "--study-name",
        "two",
        "--out",
        out,
        *extra,
    ]
    return subprocess.Popen(
        [sys.executable, "-c", "from ferlab.cli import main; main()", "sweep", *map(str, args)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )


def test_two_workers_on_one_sqlite_study_finish_n_trials_once_each(tiny_csv: Path, tmp_path: Path) -> None:
    space = _space(
        tmp_path,
        "lr: {float: [0.005, 0.05], log: true}\nbatch_size: {choice: [16, 32]}\n"
        "model_options.drop_rate: {float: [0.0, 0.5]}\n",
    )
    storage = f"sqlite:///{tmp_path / 'shared' / 'study.db'}"
    (tmp_path / "shared").mkdir()
    workers = [_worker(tiny_csv, space, storage, tmp_path / name) for name in ("a", "b")]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
        assert "A new study created" not in err, "optuna's INFO lines are not ours to print"

    trials = optuna.load_study(study_name="two", storage=storage).get_trials(states=FINISHED)
    numbers = [t.number for t in trials]
    assert len(numbers) == 4 and len(set(numbers)) == 4
    assert all(0 < t.user_attrs["val_acc"] <= 1 and t.user_attrs["epochs"] == 1 for t in trials)
    trained = [int(p.name) for name in ("a", "b") for p in (tmp_path / name / "trials").glob("*")]
    assert sorted(trained) == sorted(numbers)  # every trial trained once, by one of the workers
    for name in ("a", "b"):
        assert {"trials.csv", "sensitivity.png", "sweep.md"} <= {p.name for p in (tmp_path / name).iterdir()}

    assert (
        _cli(
            "--model",
            "lenet_like",
            "--storage",
            storage,
            "--study-name",
            "two",
            "--report-only",
            "--out",
            tmp_path / "report",
        )
        == 0
    )
    table = pd.read_csv(tmp_path / "report" / "trials.csv")
    assert sorted(table.loc[table["state"].isin(["complete", "pruned"]), "number"]) == sorted(numbers)
    assert table.columns.tolist()[-3:] == ["lr", "batch_size", "model_options.drop_rate"]
    report = (tmp_path / "report" / "sweep.md").read_text()
    assert "Not computed: importances need 5 complete trials with different scores; there are 4," in report
    assert not (tmp_path / "report" / "importances.png").exists()


def _reported_epoch_1(storage: str) -> bool:
    """Whether trial 0 of the study "two" has reported epoch 1 (after writing that epoch's ``last.pt``)."""
    try:
        trials = optuna.load_study(study_name="two", storage=storage).get_trials()
    except (KeyError, sqlalchemy.exc.DBAPIError):  # the worker has not created the study (or its tables) yet
        return False
    return bool(trials) and 1 in trials[0].intermediate_values


def _wait_until_stale(storage: str, study: optuna.Study, deadline: float) -> None:
    """Wait until the study's running trial is stale by the storage's clock (its heartbeat older than the
    2 s grace of ``--heartbeat 1``), as the next worker's check will see it; nothing is changed."""
    rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=1, grace_period=2)
    while not rdb._get_stale_trial_ids(study._study_id):  # optuna's own test (fail_stale_trials reads it)
        assert time.monotonic() < deadline, "the killed worker's trial never went stale"
        time.sleep(0.05)


def test_a_killed_workers_trial_is_failed_by_heartbeat_and_resumed_by_its_retry(tiny_csv: Path, tmp_path: Path) -> None:
    space = _space(tmp_path, "lr: {float: [0.005, 0.05], log: true}\nbatch_size: {choice: [16, 32]}\n")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    options = ("--trials", "2", "--epochs", "12", "--heartbeat", "1")  # later flags win: 2 trials of 12 epochs
    doomed = _worker(tiny_csv, space, storage, tmp_path / "doomed", *options)
    checkpoint = tmp_path / "doomed" / "trials" / "0" / "last.pt"
    deadline = time.monotonic() + 120
    while not _reported_epoch_1(storage):  # trial 0 has checkpointed epoch 1, then reported it to the study
        assert doomed.poll() is None and time.monotonic() < deadline, doomed.stderr.read()
        time.sleep(0.05)
    doomed.kill()  # SIGKILL: no chance to mark its trial
    doomed.wait()
    study = optuna.load_study(study_name="two", storage=storage)
    [killed] = study.get_trials()
    assert killed.state == optuna.trial.TrialState.RUNNING
    done = len(pd.read_csv(checkpoint.parent / "metrics.csv"))  # written before last.pt: it has the epoch's row
    assert 1 <= done < 12
    _wait_until_stale(storage, study, deadline)  # else the survivor, finding it still alive, starts a new trial

    survivor = _worker(tiny_csv, space, storage, tmp_path / "survivor", *options)
    _, err = survivor.communicate(timeout=300)
    assert survivor.returncode == 0, err

    trials = {t.number: t for t in study.get_trials()}
    assert trials[0].state == optuna.trial.TrialState.FAIL  # silent for over 2 heartbeats: failed, no longer counted
    assert sorted(n for n, t in trials.items() if t.state in FINISHED) == [1, 2]
    retry = trials[1]  # trial 0 again: its hyperparameters, trained on in its folder from its last.pt
    assert retry.system_attrs["failed_trial"] == 0 and retry.params == killed.params
    assert retry.user_attrs["dir"] == str(checkpoint.parent) and retry.user_attrs["epochs"] == 12
    assert not (tmp_path / "survivor" / "trials" / "1").exists()
    assert len(pd.read_csv(checkpoint.parent / "metrics.csv")) == 12
    assert min(retry.intermediate_values) == 1  # the dead worker's epochs are kept for the pruner
    assert (tmp_path / "survivor" / "trials" / "2" / "last.pt").exists()  # a new trial starts from scratch
    table = pd.read_csv(tmp_path / "survivor" / "trials.csv")
    assert table.set_index("number")["retry_of"].fillna(-1).astype(int).to_dict() == {0: -1, 1: 0, 2: -1}
