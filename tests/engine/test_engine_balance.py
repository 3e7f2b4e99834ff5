"""Issue #31's training levers: class-balanced weights, focal loss, the logit-adjusted loss, rare-class
label sources, and the training class prior a run stores."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ferlab.data import load_dataset
from ferlab.data.dataset import only_classes
from ferlab.engine import load_config, train
from ferlab.engine.losses import TrainingLoss, effective_number_weights, inverse_frequency_weights
from ferlab.engine.trainer import training_data
from ferlab.errors import FerlabError
from ferlab.priors import OutputCalibration

LABELS = torch.tensor([0] * 90 + [1] * 9 + [2])


def test_effective_number_weights_lie_between_none_and_inverse_frequency() -> None:
    # (1 - b) / (1 - b^n) for n = 90, 9, 1 and b = 0.9, scaled to a mean of 1 over the 100 images
    raw = torch.tensor([0.1 / (1 - 0.9**90), 0.1 / (1 - 0.9**9), 1.0])
    expected = raw * 100 / (raw * torch.tensor([90.0, 9.0, 1.0])).sum()
    weights = effective_number_weights(LABELS, 4, beta=0.9)
    assert weights[:3].tolist() == pytest.approx(expected.tolist(), rel=1e-5) and weights[3] == 0
    inverse = inverse_frequency_weights(LABELS, 3)
    assert 1 < weights[2] / weights[0] < inverse[2] / inverse[0]  # milder than inverse frequency
    near_inverse = effective_number_weights(LABELS, 3, beta=0.999999)
    assert near_inverse.tolist() == pytest.approx(inverse.tolist(), rel=1e-3)


def test_focal_loss_is_cross_entropy_at_gamma_0_and_discounts_easy_images() -> None:
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 0.5, 0.0]])
    labels = torch.tensor([0, 1])
    cross_entropy = TrainingLoss()({"logits": logits}, labels)
    at_zero = TrainingLoss(focal_gamma=1e-9)({"logits": logits}, labels)
    assert at_zero == pytest.approx(cross_entropy, rel=1e-6)
    focal = TrainingLoss(focal_gamma=2.0)({"logits": logits}, labels)
    p = logits.softmax(1)[[0, 1], labels]
    assert focal == pytest.approx((-((1 - p) ** 2) * p.log()).mean(), rel=1e-6)
    assert (1 - p[0]) ** 2 < 0.01  # the easy image (p = 0.96) counts almost nothing


def test_only_classes_keeps_the_named_classes_and_refuses_unknown_names(tiny_fer2013: Path) -> None:
    train_split = load_dataset("fer2013", tiny_fer2013, "train")
    rare = only_classes(train_split, ["disgust", "fear"])
    assert len(rare) > 0 and set(np.unique(rare.labels)) <= {1, 2}
    assert len(rare) == int(np.isin(train_split.labels, [1, 2]).sum())
    with pytest.raises(FerlabError, match="must be a non-empty list of its classes"):
        only_classes(train_split, ["contempt"])


def test_old_configs_class_weights_migrate_and_bad_lever_values_are_refused(tmp_path: Path) -> None:
    old = tmp_path / "old.yaml"
    old.write_text("class_weights: true\n")
    assert load_config(old).class_balance == "inverse"
    for bad in ({"class_balance": "sqrt"}, {"class_balance_beta": 1.0}, {"focal_gamma": -1.0}):
        with pytest.raises(FerlabError):
            load_config(None, **bad)


def test_a_logit_adjusted_run_stores_its_prior_and_tau_and_its_data_point_adds_them_back(
    tiny_fer2013: Path, tmp_path: Path
) -> None:
    extra = {"data": "fer2013", "data_root": str(tiny_fer2013), "split": "train", "classes": ["happy"]}
    config = load_config(
        None,
        model="lenet_like",
        data_root=str(tiny_fer2013),
        epochs=1,
        batch_size=64,
        logit_adjustment=1.0,
        class_balance="effective",
        extra_data=[extra],
        out=str(tmp_path / "run"),
        threads=1,
    )
    train_set, _ = training_data(config)
    counts = np.bincount(train_set.labels, minlength=7)
    assert counts[3] == 2 * np.bincount(load_dataset("fer2013", tiny_fer2013, "train").labels, minlength=7)[3]
    result = train(config)
    stored = torch.load(result.run_dir / "best.pt", weights_only=True)
    np.testing.assert_allclose(stored["class_prior"], counts / counts.sum(), rtol=1e-6)
    assert stored["logit_adjustment"] == 1.0
    weights = effective_number_weights(torch.from_numpy(train_set.labels), 7, 0.999).numpy()
    np.testing.assert_allclose(stored["class_weights"], weights, rtol=1e-5)
    offsets = OutputCalibration.from_record(stored).adjuster("data")(np.zeros((1, 7)))[0]
    lean = np.log(np.where(weights > 0, weights, 1.0))  # the weighted loss's lean, taken out
    np.testing.assert_allclose(offsets, np.log(counts / counts.sum()) - lean, rtol=1e-4, atol=1e-5)
    assert "val_balanced_acc" in result.history[0]
