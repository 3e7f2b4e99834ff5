"""Parameter counts and measured FLOPs, and the `ferlab models` listing."""

from __future__ import annotations

from torch import nn
from typer.testing import CliRunner

from ferlab.cli import app
from ferlab.models import count_parameters, create_model, list_models, measure_flops, profile_model


def test_count_parameters() -> None:
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Linear(4, 2))
    model[1].weight.requires_grad_(False)
    assert count_parameters(model) == 8 * 9 + 8 + 4 * 2 + 2
    assert count_parameters(model, trainable_only=True) == 8 * 9 + 8 + 2


def test_measure_flops_counts_a_multiply_add_as_two() -> None:
    model = nn.Sequential(nn.Conv2d(1, 8, 3), nn.Flatten(), nn.Linear(8 * 8 * 8, 5)).train()
    # conv: 8x8 outputs x 8 filters x 9 taps; linear: 512 x 5; two FLOPs per multiply-add
    assert measure_flops(model, (1, 10, 10)) == 2 * (8 * 8 * 8 * 9 + 512 * 5)
    assert model.training


def test_profile_on_meta_matches_a_real_model() -> None:
    profile = profile_model("lenet_like")
    real = measure_flops(create_model("lenet_like"), (1, 48, 48))
    assert profile.flops == real > 0
    assert profile.params == 1_274_855
    assert profile.input_size == (1, 48, 48)


def test_ferlab_models_command_lists_every_model() -> None:
    result = CliRunner().invoke(app, ["models"])
    assert result.exit_code == 0, result.output
    assert "multiply-add counts as 2 FLOPs" in result.output
    for name in list_models():
        assert name in result.output
    assert "66,877" in result.output  # deep_emotion's parameters
