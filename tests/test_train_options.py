"""Options generated from TrainConfig: every plain field is a flag of train, compare and sweep."""

from __future__ import annotations

import dataclasses

import pytest
from typer.testing import CliRunner

from ferlab.cli import app
from ferlab.cli.options import settings_fields
from ferlab.engine.config import TrainConfig, field_help


def _help(command: str) -> str:
    result = CliRunner().invoke(app, [command, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def test_every_field_has_help_from_the_docstring() -> None:
    helps = field_help()
    assert set(helps) == {f.name for f in dataclasses.fields(TrainConfig)}
    assert helps["momentum"] == "SGD's momentum." and helps["kd_temperature"].startswith("the distillation weight")


@pytest.mark.parametrize("command", ["train", "compare", "sweep"])
def test_each_command_offers_the_plain_fields(command: str) -> None:
    shown = _help(command)
    for name, _ in settings_fields(TrainConfig, exclude={"model", "init"} if command == "compare" else ()):
        assert f"--{name.replace('_', '-')}" in shown, name
    assert "--model-options" not in shown and "--extra-data" not in shown  # composite: YAML only
    assert "SGD's momentum. Default: 0.9. Allowed: >= 0 and < 1." in shown
    assert "Allowed: one of none, basic, strong, wild, jpeg." in shown


def test_given_flags_reach_the_config_and_are_checked(tmp_path) -> None:
    result = CliRunner().invoke(app, ["train", "--optimizer", "rmsprop", "--data-root", str(tmp_path)])
    assert result.exit_code != 0 and "optimizer = 'rmsprop': must be one of sgd, adam, adamw" in str(result.exception)
    result = CliRunner().invoke(app, ["train", "--no-channels-last", "--epochs", "0", "--data-root", str(tmp_path)])
    assert "epochs = 0: must be >= 1" in str(result.exception)
