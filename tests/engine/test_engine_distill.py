"""Knowledge distillation: the soft-target loss, learning from a teacher alone, undistilled extra data, bad teachers."""

import csv
from pathlib import Path

import pytest
import torch

from ferlab.data.labels import FER2013_CLASSES
from ferlab.engine import load_config, train
from ferlab.engine.checkpoint import model_record
from ferlab.engine.losses import distillation_loss
from ferlab.errors import FerlabError
from ferlab.models import create_model

FAST = dict(model="lenet_like", epochs=3, batch_size=32, lr=0.02, device="cpu", threads=1)


def test_distillation_loss_is_t_squared_kl_of_the_softened_distributions() -> None:
    student = torch.tensor([[2.0, 0.0, -1.0]], requires_grad=True)
    teacher = torch.tensor([[0.0, 1.0, 0.0]])
    p = torch.softmax(teacher / 2.0, dim=1)
    q = torch.softmax(student.detach() / 2.0, dim=1)
    expected = 4.0 * float((p * (p.log() - q.log())).sum())
    loss = distillation_loss(student, teacher, temperature=2.0)
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    loss.backward()
    assert student.grad is not None and student.grad.abs().sum() > 0
    assert float(distillation_loss(teacher, teacher, 3.0)) == pytest.approx(0.0, abs=1e-6)


def test_masked_distillation_averages_only_the_distilled_images_over_the_whole_batch() -> None:
    student = torch.tensor([[2.0, 0.0, -1.0], [0.0, 3.0, 0.0]], requires_grad=True)
    teacher = torch.tensor([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    first_alone = distillation_loss(student[:1], teacher[:1], 2.0)
    loss = distillation_loss(student, teacher, 2.0, mask=torch.tensor([True, False]))
    assert loss.item() == pytest.approx(first_alone.item() / 2, rel=1e-5)
    loss.backward()
    assert student.grad[0].abs().sum() > 0 and student.grad[1].abs().sum() == 0


def test_extra_data_with_distill_false_is_kept_out_of_the_teachers_loss(tiny_fer2013: Path, tmp_path: Path) -> None:
    """kd_weight 1 and an lr too small to move the weights: the epoch's loss is the teacher's term
    alone, so with the main images followed by 3 undistilled copies it is about 1/4 of the loss
    with all 4 copies distilled."""
    teacher = _untrained_teacher(tmp_path / "teacher.pt")
    losses = {}
    for distill in (True, False):
        config = load_config(
            data_root=str(tiny_fer2013),
            out=str(tmp_path / f"distill_{distill}"),
            teacher=str(teacher),
            extra_data=[{"data": "fer2013", "data_root": str(tiny_fer2013), "repeat": 3, "distill": distill}],
            **{**FAST, "epochs": 1, "lr": 1e-9, "kd_weight": 1.0, "aug": "none"},
        )
        train(config)
        with open(tmp_path / f"distill_{distill}" / "metrics.csv") as rows:
            losses[distill] = float(next(csv.DictReader(rows))["train_loss"])
    assert 0.15 < losses[False] / losses[True] < 0.35, losses


def test_an_extra_data_entry_is_distilled_from_its_own_teacher(tiny_fer2013: Path, tmp_path: Path) -> None:
    """Each image learns from its own source's teacher. The student and the run's teacher have every
    weight 0 (logits 0: no loss on the main images); the extra entry's teacher answers logits ``b``
    for every image, a hand-computed KL away from the student's uniform output. kd_weight 1 and an
    lr too small to move the weights: with the main images followed by 3 copies of the extra
    ones, the epoch's loss is about 3/4 of that KL (0 or all of it if one teacher taught all)."""
    zero = _constant_teacher(tmp_path / "zero.pt", torch.zeros(len(FER2013_CLASSES)))
    bias = torch.tensor([2.0, -1.0, 0.0, 1.0, 0.5, -0.5, 0.0])
    biased = _constant_teacher(tmp_path / "biased.pt", bias)
    extra = {"data": "fer2013", "data_root": str(tiny_fer2013), "repeat": 3, "teacher": str(biased)}
    config = load_config(
        data_root=str(tiny_fer2013),
        out=str(tmp_path / "run"),
        teacher=str(zero),
        init=str(zero),
        extra_data=[extra],
        **{**FAST, "epochs": 1, "lr": 1e-9, "kd_weight": 1.0, "kd_temperature": 2.0, "aug": "none"},
    )
    train(config)
    with open(tmp_path / "run" / "metrics.csv") as rows:
        loss = float(next(csv.DictReader(rows))["train_loss"])
    target = torch.softmax(bias / 2.0, dim=0)
    kl = 4.0 * float((target * (target * len(bias)).log()).sum())
    assert 0.65 < loss / kl < 0.85, (loss, kl)


def test_a_teacher_with_distill_false_is_refused() -> None:
    with pytest.raises(FerlabError, match="a teacher and distill: false contradict"):
        load_config(teacher="t", extra_data=[{"data": "folder", "data_root": ".", "distill": False, "teacher": "t"}])


def test_distill_false_without_a_teacher_is_refused() -> None:
    with pytest.raises(FerlabError, match="distill: false, but no teacher"):
        load_config(extra_data=[{"data": "folder", "data_root": ".", "distill": False}])


def _untrained_teacher(path: Path, classes: tuple[str, ...] = FER2013_CLASSES) -> Path:
    model = create_model("lenet_like", num_classes=len(classes))
    torch.save(model_record(model, "lenet_like", {}, classes), path)
    return path


def _constant_teacher(path: Path, logits: torch.Tensor) -> Path:
    """A model whose every weight is 0 but its last layer's bias, ``logits``: it answers ``logits``
    for any image."""
    model = create_model("lenet_like", num_classes=len(logits))
    for parameter in model.parameters():
        parameter.data.zero_()
    list(model.parameters())[-1].data.copy_(logits)
    assert torch.equal(model.eval()(torch.rand(2, *model.input_size)), logits.expand(2, -1))
    torch.save(model_record(model, "lenet_like", {}, FER2013_CLASSES), path)
    return path


def test_teacher_prior_balanced_distils_the_teachers_prior_adjusted_logits(tiny_fer2013: Path, tmp_path: Path) -> None:
    """A teacher and a student (started from it) whose every weight is 0 give logits of 0: at the
    data point the teacher's targets equal the student's outputs (loss 0); at the balanced point
    they are softmax(-log prior / T), a hand-computed KL away from the student's uniform outputs."""
    prior = torch.tensor([0.3, 0.05, 0.05, 0.3, 0.1, 0.1, 0.1])
    model = create_model("lenet_like", num_classes=len(FER2013_CLASSES))
    for parameter in model.parameters():
        parameter.data.zero_()
    teacher = tmp_path / "zero.pt"
    torch.save(model_record(model, "lenet_like", {}, FER2013_CLASSES, class_prior=prior.tolist()), teacher)
    losses = {}
    for point in ("data", "balanced"):
        config = load_config(
            data_root=str(tiny_fer2013),
            out=str(tmp_path / point),
            teacher=str(teacher),
            teacher_prior=point,
            init=str(teacher),
            **{**FAST, "epochs": 1, "lr": 1e-9, "kd_weight": 1.0, "kd_temperature": 2.0, "aug": "none"},
        )
        train(config)
        with open(tmp_path / point / "metrics.csv") as rows:
            losses[point] = float(next(csv.DictReader(rows))["train_loss"])
    target = torch.softmax(-prior.log() / 2.0, dim=0)
    expected = 4.0 * float((target * (target * len(prior)).log()).sum())
    assert losses["data"] == pytest.approx(0.0, abs=1e-6)
    assert losses["balanced"] == pytest.approx(expected, rel=1e-4)


def test_student_learns_from_a_trained_teacher_alone(tiny_fer2013: Path, tmp_path: Path) -> None:
    """kd_weight 1: the labels carry no weight, so what the student learns comes from the teacher."""
    teacher_run = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "teacher"), **FAST)).run_dir
    runs = {}
    for name, teacher in (("trained", teacher_run), ("untrained", _untrained_teacher(tmp_path / "u.pt"))):
        config = load_config(
            data_root=str(tiny_fer2013), out=str(tmp_path / name), teacher=str(teacher), kd_weight=1.0, **FAST
        )
        runs[name] = train(config).best_val_acc
    assert runs["trained"] > 0.6, runs
    assert runs["untrained"] < 0.45, runs


def test_teacher_of_other_classes_is_refused(tiny_fer2013: Path, tmp_path: Path) -> None:
    teacher = _untrained_teacher(tmp_path / "eight.pt", classes=(*FER2013_CLASSES, "contempt"))
    config = load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), teacher=str(teacher), **FAST)
    with pytest.raises(FerlabError, match=r"teacher .*eight.pt predicts .*contempt; the training data has"):
        train(config)


@pytest.mark.parametrize("options", [{"kd_weight": 1.5}, {"kd_temperature": 0.0}, {"teacher_prior": "even"}])
def test_bad_distillation_options(options: dict) -> None:
    with pytest.raises(
        FerlabError, match="kd_weight = .*: must be >= 0 and <= 1|kd_temperature = .*: must be > 0|teacher_prior"
    ):
        load_config(**options)
