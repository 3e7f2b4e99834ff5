"""`ferlab soup`: the weights' mean of like models, with the operating points' prior and weights."""

import json
import math
from pathlib import Path

import pytest
import torch

from ferlab.cli import main
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.engine.soup import average_records
from ferlab.errors import FerlabError
from ferlab.models import create_model
from ferlab.models.files import load_model
from ferlab.priors import OutputCalibration

CLASSES = ("neutral", "happy", "sad")
OPTIONS = {"widths": [4, 8], "hidden": 8}


def record(seed: int, prior=(0.5, 0.3, 0.2), weights=None, classes=CLASSES, smoothing=0.0) -> dict:
    """A tiny vgg_like model file's record with random weights (``seed``) and BatchNorm statistics."""
    torch.manual_seed(seed)
    model = create_model("vgg_like", num_classes=len(classes), **OPTIONS)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.normal_()
            module.running_var.uniform_(0.5, 2.0)
            module.num_batches_tracked.fill_(seed + 1)
    return model_record(
        model, "vgg_like", OPTIONS, classes, class_prior=prior, label_smoothing=smoothing, class_weights=weights
    )


def test_a_soup_is_the_mean_of_the_weights_with_geometric_mean_priors_and_weights() -> None:
    a, b = record(0, (0.5, 0.3, 0.2), (1.0, 2.0, 4.0)), record(1, (0.2, 0.3, 0.5), None)
    soup = average_records([a, b], ["a", "b"])
    for key, tensor in soup["state_dict"].items():
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, (a["state_dict"][key] + b["state_dict"][key]) / 2)
        else:  # BatchNorm's batch counter: the first model's
            assert int(tensor) == int(a["state_dict"][key])
    assert any("running_var" in key for key in soup["state_dict"]), "BatchNorm statistics are averaged too"
    # Priors sqrt(0.5*0.2), sqrt(0.3*0.3), sqrt(0.2*0.5) = 0.3162, 0.3, 0.3162, renormalised; weights
    # sqrt(1*1), sqrt(2*1), sqrt(4*1) (an unweighted model's weights are ones).
    total = 2 * math.sqrt(0.1) + 0.3
    assert soup["class_prior"] == pytest.approx([math.sqrt(0.1) / total, 0.3 / total, math.sqrt(0.1) / total])
    assert soup["class_weights"] == pytest.approx([1.0, math.sqrt(2), 2.0])
    assert OutputCalibration.from_record(soup).temperature == 1.0, "a soup is not calibrated until fitted"


@pytest.mark.parametrize(
    ("other", "message"),
    [
        (lambda: record(1, classes=("neutral", "happy", "angry")), "b: its classes differs from a's"),
        (lambda: record(1, smoothing=0.1), "b: its label_smoothing differs from a's"),
        (lambda: record(1, prior=None), "some of the models store a training class prior"),
    ],
)
def test_unlike_models_are_refused(other, message: str) -> None:
    with pytest.raises(FerlabError, match=message):
        average_records([record(0), other()], ["a", "b"])


def test_soup_command_writes_a_model_that_loads(tmp_path: Path, run_ferlab, capsys: pytest.CaptureFixture[str]) -> None:
    runs = []
    for seed in (0, 1, 2):
        run = tmp_path / f"run{seed}"
        save_atomically(record(seed), run / "best.pt")
        runs.append(str(run))
    out = tmp_path / "soup"
    result = run_ferlab("soup", *runs, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "3 models averaged" in result.stdout
    model, soup = load_model(out)
    parts = [load_model(run)[0].state_dict() for run in runs]
    for key, tensor in model.state_dict().items():
        if tensor.is_floating_point():
            torch.testing.assert_close(tensor, sum(part[key] for part in parts) / 3)
    assert json.loads((out / "soup.json").read_text())["ingredients"] == runs
    # Unlike models: one line naming the file, in this process (the subprocess above showed the real CLI).
    save_atomically(record(3, classes=("neutral", "happy", "angry")), tmp_path / "odd" / "best.pt")
    with pytest.raises(SystemExit) as exit_info:
        main(["soup", runs[0], str(tmp_path / "odd"), "--out", str(tmp_path / "bad")])
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert "odd: its classes differs from" in error and len(error.splitlines()) == 1, error
    assert not (tmp_path / "bad" / "best.pt").exists()
