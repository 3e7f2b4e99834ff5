"""Issue #34: one validation mechanism. Every constrained setting (training, server, face detectors) refuses an
invalid value generated from its own declared metadata, in one line naming the setting, the value and what is
allowed; the CLI and YAML files go through the same check (exit 2, no traceback)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from ferlab.constraints import Finite, Ge, Gt, Le, Lt, OneOf, _flat, check_value, constraints_of, describe
from ferlab.engine.config import TrainConfig, load_config
from ferlab.errors import FerlabError, OptionError
from ferlab.evaluate.request import EvalRequest
from ferlab.faces import get_detector
from ferlab.faces.detectors import DlibDetector, HaarDetector
from ferlab.serve.settings import ServeSettings
from ferlab.study.compare import CompareEntry, CompareRequest

REQUIRED: dict[type, dict[str, Any]] = {
    EvalRequest: {"weights": Path("w.pt"), "data": "fer2013", "data_root": Path(".")},
    CompareRequest: {
        "entries": (CompareEntry("lenet_like"),),
        "protocol": TrainConfig(),
        "name": "c",
        "runs_dir": Path("runs"),
        "out": Path("results"),
    },
}
"""The settings without defaults of each checked class (valid values)."""


def invalid_values(metadata: tuple[Any, ...]) -> list[Any]:
    """Values just outside each constraint of ``metadata``."""
    values: list[Any] = []
    for constraint in _flat(metadata):
        if isinstance(constraint, OneOf):
            values.append("no-such-choice")
        elif isinstance(constraint, Finite):
            values += [math.nan, math.inf]
        elif isinstance(constraint, Ge):
            values.append(constraint.ge - 1)
        elif isinstance(constraint, Gt):
            values.append(constraint.gt)
        elif isinstance(constraint, Le):
            values.append(constraint.le + 1)
        elif isinstance(constraint, Lt):
            values.append(constraint.lt)
    return values


def _cases() -> list[Any]:
    cases = []
    for owner in (TrainConfig, ServeSettings, EvalRequest, CompareRequest):
        for name, metadata in constraints_of(owner).items():
            cases += [
                pytest.param(owner, name, value, id=f"{owner.__name__}.{name}={value!r}")
                for value in invalid_values(metadata)
            ]
    return cases


@pytest.mark.parametrize(("owner", "name", "value"), _cases())
def test_every_constrained_setting_refuses_an_invalid_value_in_one_line(owner: type, name: str, value: Any) -> None:
    with pytest.raises(ValueError) as refused:
        owner(**REQUIRED.get(owner, {}), **{name: value})
    message = str(refused.value)
    assert isinstance(refused.value, OptionError) and "\n" not in message
    assert message.startswith(f"{name} = {value!r}: must be ") and describe(constraints_of(owner)[name]) in message


def test_there_is_something_to_check() -> None:
    assert {"lr", "momentum", "weight_decay", "warmup_epochs", "label_smoothing", "aug", "mix"} <= set(
        constraints_of(TrainConfig)
    )
    assert {"port", "max_pixels", "backend", "tta"} <= set(constraints_of(ServeSettings))
    assert {"tta", "occlusion", "batch_size"} <= set(constraints_of(EvalRequest))
    assert {"budget_minutes", "timing_seconds"} <= set(constraints_of(CompareRequest))


@pytest.mark.parametrize("backend", [HaarDetector, DlibDetector])
def test_every_constrained_detector_option_refuses_an_invalid_value(backend: type) -> None:
    import typing

    hints = typing.get_type_hints(backend.__init__, include_extras=True)
    for key, hint in hints.items():
        for value in invalid_values(getattr(hint, "__metadata__", ())):
            with pytest.raises(OptionError, match=f"^detector {backend.name} option {key} = "):
                get_detector(backend.name, **{key: value})


def test_the_issues_detector_example() -> None:
    with pytest.raises(OptionError, match=r"^detector opencv option min_neighbors = -5: must be >= 0$"):
        get_detector("opencv:min_neighbors=-5")


def test_check_value_lets_none_through_and_returns_the_value() -> None:
    assert check_value("limit", None, (Ge(1),)) is None and check_value("limit", 3, (Ge(1),)) == 3


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("lr: .nan\n", "lr = nan: must be > 0 and finite"),
        ("lr: .inf\n", "lr = inf: must be > 0 and finite"),
        ("momentum: 5\n", "momentum = 5.0: must be >= 0 and < 1"),
        ("warmup_epochs: -1\n", "warmup_epochs = -1.0: must be >= 0 and finite"),
        ("lr: 0.1\nlr: 0.2\n", "line 2: the key 'lr' is given twice"),
    ],
)
def test_config_files_go_through_the_same_check(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(OptionError if "twice" not in message else FerlabError, match=message.replace(".", r"\.")):
        load_config(path)


def test_a_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes("lr: 0.1 # caf\u00e9\n".encode("latin-1"))
    with pytest.raises(FerlabError, match=r"cannot read the config \(not UTF-8 text: byte 13\)$"):
        load_config(path)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--label-smoothing", "2"], "label_smoothing = 2.0: must be >= 0 and < 1"),
        (["--label-smoothing", "-0.5"], "label_smoothing = -0.5: must be >= 0 and < 1"),
        (["--weight-decay", "-1"], "weight_decay = -1.0: must be >= 0 and finite"),
        (["--momentum", "-1"], "momentum = -1.0: must be >= 0 and < 1"),
        (["--warmup-epochs", "nan"], "warmup_epochs = nan: must be >= 0 and finite"),
        (["--lr", "nan"], "lr = nan: must be > 0 and finite"),
        (["--aug", "feral"], "aug = 'feral': must be one of none, basic, strong, wild, jpeg"),
    ],
)
def test_cli_flags_are_one_line_with_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], message: str
) -> None:
    from ferlab.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["train", "--data-root", str(tmp_path), "--out", str(tmp_path / "run"), *flags])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "run").exists()
