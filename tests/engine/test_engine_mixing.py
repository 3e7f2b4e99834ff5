"""Mixup / CutMix: images and targets mixed by the same weight, and training runs that use them."""

from pathlib import Path

import pytest
import torch

from ferlab.data.transforms import batch_mixing
from ferlab.engine import load_config, train
from ferlab.engine.losses import TrainingLoss
from ferlab.errors import FerlabError


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Eight constant images, image i filled with the value i, labelled i mod 7."""
    images = torch.arange(8.0).view(8, 1, 1, 1).expand(8, 1, 48, 48).contiguous()
    return images, torch.arange(8) % 7


def test_mixup_mixes_images_and_targets_by_the_same_weight() -> None:
    torch.manual_seed(0)
    images, labels = _batch()
    mixed, target = batch_mixing("mixup", 1.0, 7)(images, labels)
    one_hot = torch.nn.functional.one_hot(labels, 7).float()
    lam = float(target[1, labels[1]])  # image 1 takes lam of itself and 1 - lam of image 0 (label 0)
    assert 0 < lam < 1
    assert torch.allclose(mixed, lam * images + (1 - lam) * images.roll(1, 0))
    assert torch.allclose(target, lam * one_hot + (1 - lam) * one_hot.roll(1, 0))


def test_cutmix_pastes_an_area_equal_to_the_target_share() -> None:
    torch.manual_seed(1)
    images, labels = _batch()
    mixed, target = batch_mixing("cutmix", 1.0, 7)(images, labels)
    for i in range(1, 7):  # image i gets a box from image i - 1; labels i and i - 1 differ here
        pasted = float((mixed[i] == images[i - 1]).float().mean())
        assert target[i, labels[i - 1]] == pytest.approx(pasted, abs=1e-6)
        assert target[i, labels[i]] == pytest.approx(1 - pasted, abs=1e-6)


def test_mixing_keeps_distributions_as_distributions() -> None:
    torch.manual_seed(2)
    images, _ = _batch()
    votes = torch.softmax(torch.randn(8, 8), dim=1)
    mixed, target = batch_mixing("both", 0.4, 8)(images, votes)
    assert mixed.shape == images.shape
    assert torch.allclose(target.sum(1), torch.ones(8))
    assert batch_mixing("none", 1.0, 7) is None
    with pytest.raises(FerlabError, match="unknown mixing 'mosaic'"):
        batch_mixing("mosaic", 1.0, 7)
    with pytest.raises(FerlabError, match="mix_alpha = .*: must be > 0 and finite"):
        load_config(mix="cutmix", mix_alpha=0.0)


@pytest.mark.parametrize("mix", ["cutmix", "mixup"])
def test_training_with_mixing_learns(
    tiny_fer2013: Path, tmp_path: Path, mix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen_targets = []
    loss_of_batch = TrainingLoss.forward

    def recording(self: TrainingLoss, outputs: dict, target: torch.Tensor) -> torch.Tensor:
        seen_targets.append(target.detach())
        return loss_of_batch(self, outputs, target)

    monkeypatch.setattr(TrainingLoss, "forward", recording)
    config = load_config(
        model="lenet_like",
        data_root=str(tiny_fer2013),
        out=str(tmp_path / mix),
        epochs=4,
        batch_size=32,
        lr=0.02,
        device="cpu",
        threads=1,
        mix=mix,
    )
    result = train(config)
    assert result.best_val_acc > 0.6, result.history
    assert all(t.ndim == 2 for t in seen_targets), "the loss sees target distributions"
    assert any(((t > 0) & (t < 1)).any() for t in seen_targets), "some of them mixed"
    assert (tmp_path / mix / "config.yaml").read_text().count(f"mix: {mix}") == 1
