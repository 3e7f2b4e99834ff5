"""Losses, schedules, configs and the one-line errors of bad training input."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from ferlab.cli import main
from ferlab.engine import load_config, load_model, train
from ferlab.engine.checkpoint import save_atomically
from ferlab.engine.losses import TrainingLoss, inverse_frequency_weights
from ferlab.errors import FerlabError
from ferlab.weights import list_shipped, resolve_model


def test_loss_forms() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    labels = torch.tensor([0, 1])
    soft = torch.tensor([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]])
    hard = TrainingLoss()({"logits": logits}, labels)
    assert hard == pytest.approx(torch.nn.functional.cross_entropy(logits, labels))
    votes = TrainingLoss("crossentropy")
    soft_loss = votes({"logits": logits}, votes.target(labels, soft))
    assert soft_loss == pytest.approx(torch.nn.functional.cross_entropy(logits, soft))
    torch.manual_seed(0)
    drawing = TrainingLoss("probability")
    drawn = torch.stack([drawing.target(labels, soft) for _ in range(200)])
    assert set(drawn[:, 0].tolist()) == {0, 1} and set(drawn[:, 1].tolist()) == {1}, "draws follow the votes"
    weights = torch.tensor([1.0, 0.1, 0.1])
    with_aux = TrainingLoss(class_weights=weights)({"logits": logits, "aux_loss": torch.tensor(0.25)}, labels)
    plain = torch.nn.functional.cross_entropy(logits, labels, weight=weights)
    assert with_aux == pytest.approx(plain + 0.25)


def test_inverse_frequency_weights() -> None:
    weights = inverse_frequency_weights(torch.tensor([0, 0, 0, 1]), 3)
    assert weights.tolist() == pytest.approx([4 / 9, 4 / 3, 0.0])


def test_config_file_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text("model: vgg_like\nepochs: 5\nlr: 1\nmodel_options: {drop_rate: 0.3}\n")
    config = load_config(path, epochs=7)
    assert (config.model, config.epochs, config.lr, config.out) == ("vgg_like", 7, 1.0, "runs/vgg_like")
    path.write_text("model: vgg_like\nepoch: 5\n")
    with pytest.raises(FerlabError, match="unknown option.* epoch;"):
        load_config(path)
    path.write_text("epochs: many\n")
    with pytest.raises(FerlabError, match="option epochs must be int, got 'many'"):
        load_config(path)
    with pytest.raises(FerlabError, match="optimizer = 'rmsprop': must be one of sgd, adam, adamw"):
        load_config(optimizer="rmsprop")


def test_configs_written_before_rb_options_moved_still_load(tmp_path: Path) -> None:
    """Run folders of before 2026-12-02 hold rb_weight/rb_delta as training options."""
    path = tmp_path / "config.yaml"
    path.write_text("model: ran\nmodel_options: {regions: [[0, 0, 1, 1]]}\nrb_weight: 0.0\nrb_delta: 0.1\n")
    assert load_config(path).model_options == {"regions": [[0, 0, 1, 1]], "rb_weight": 0.0}
    path.write_text("model: vgg_like\nrb_weight: 0.0\nrb_delta: 0.1\n")
    assert load_config(path).model_options == {}, "vgg_like takes no rb_weight: it had no effect"


def test_bad_training_input_is_a_one_line_error(
    tiny_fer2013: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], run_ferlab, assert_one_line_error
) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("modle: lenet_like\n")
    assert_one_line_error(run_ferlab("train", "--config", str(config)), "unknown option(s) modle")
    out = tmp_path / "run"
    out.mkdir()
    (out / "last.pt").write_bytes(b"\x00garbage")
    assert_one_line_error(
        run_ferlab("train", "--model", "lenet_like", "--data-root", str(tiny_fer2013), "--out", str(out), "--resume"),
        "not a ferlab model file",
    )
    # The same entry point in this process (torch is loaded already, a subprocess costs ~10 s):
    for args, message in (
        (["--model", "lenet_lik", "--data-root", str(tiny_fer2013)], "unknown model 'lenet_lik'"),
        (["--model", "lenet_like", "--data-root", str(tmp_path / "empty")], "no such file or folder"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["train", *args])
        stderr = capsys.readouterr().err
        assert exited.value.code == 2 and message in stderr and "Traceback" not in stderr, stderr
        assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.parametrize(
    ("command", "message"),
    [
        (["train", "--config", "{tmp}/bad.yaml"], "unknown option(s) modle"),
        (
            [
                "eval",
                "ferlab-fer2013",
                "--data",
                "folder",
                "--data-root",
                "{tmp}",
                "--detector",
                "opencv",
                "--occlude",
                "eyes",
            ],
            "cannot be combined with --detector",
        ),
    ],
    ids=["train", "eval"],
)
def test_a_bad_option_is_refused_before_torch_loads(command: list[str], message: str, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("modle: lenet_like\n")
    probe = "import sys; from ferlab.cli import main\ntry: main()\nfinally: print('torch' in sys.modules)"
    args = [word.format(tmp=tmp_path) for word in command]
    result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stdout.strip() == "False", "torch was loaded before the option was checked"


def test_resuming_with_another_model_is_refused(
    tiny_fer2013: Path, tmp_path: Path, run_ferlab, assert_one_line_error
) -> None:
    out = tmp_path / "run"
    train(
        load_config(
            model="deep_emotion",
            data_root=str(tiny_fer2013),
            out=str(out),
            epochs=1,
            batch_size=64,
            device="cpu",
            threads=1,
        )
    )
    result = run_ferlab(
        "train", "--model", "lenet_like", "--data-root", str(tiny_fer2013), "--out", str(out), "--resume"
    )
    assert_one_line_error(result, "trained with model 'deep_emotion', not 'lenet_like'")


def test_weights_from_another_model_are_refused(tmp_path: Path) -> None:
    from ferlab.engine.checkpoint import model_record
    from ferlab.models import create_model

    record = model_record(create_model("lenet_like"), "lenet_like", {}, tuple("abcdefg"))
    record["model"] = "vgg_like"  # weights of one architecture labelled as another
    save_atomically(record, tmp_path / "model.pt")
    with pytest.raises(FerlabError, match="weights do not fit model 'vgg_like'"):
        load_model(tmp_path / "model.pt")


CONFIGS = Path(__file__).resolve().parents[2] / "configs"
TRAINING_CONFIGS = sorted(
    path
    for path in CONFIGS.rglob("*.yaml")
    if not path.stem.endswith("_entries")  # compare's entry lists
    and (path.parent.name != "sweeps" or path.stem.endswith(("_proxy", "_12k")))  # sweep bases, not spaces
)
"""Every committed training config: recipes, study protocols and sweep bases."""


@pytest.mark.parametrize("path", TRAINING_CONFIGS, ids=lambda path: str(path.relative_to(CONFIGS)))
def test_committed_training_configs_load_and_build_their_model(path: Path) -> None:
    from ferlab.models import create_model

    config = load_config(path)
    model = create_model(config.model, **config.model_options)
    assert sum(p.numel() for p in model.parameters()) > 0
    if config.teacher:  # a shipped model, or a committed file named relative to the repository root
        shipped = config.teacher in list_shipped()
        teacher, _ = load_model(resolve_model(config.teacher if shipped else CONFIGS.parent / config.teacher))
        assert teacher.input_size[0] == model.input_size[0], "a teacher needs the student's channels"
