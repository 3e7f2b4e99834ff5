"""Knowledge distillation: the soft-target loss, learning from a teacher alone, bad teachers."""

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


def _untrained_teacher(path: Path, classes: tuple[str, ...] = FER2013_CLASSES) -> Path:
    model = create_model("lenet_like", num_classes=len(classes))
    torch.save(model_record(model, "lenet_like", {}, classes), path)
    return path


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


@pytest.mark.parametrize("options", [{"kd_weight": 1.5}, {"kd_temperature": 0.0}])
def test_bad_distillation_options(options: dict) -> None:
    with pytest.raises(FerlabError, match="kd_weight must be in"):
        load_config(**options)
