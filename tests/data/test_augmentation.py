"""The training augmentation presets on real-sized batches."""

from __future__ import annotations

import pytest
import torch

from ferlab.data.transforms import AUG_PRESETS, augmentation


@pytest.mark.parametrize("preset", AUG_PRESETS)
def test_each_preset_keeps_shape_and_range_and_changes_images(preset: str) -> None:
    torch.manual_seed(0)
    faces = torch.rand(64, 1, 48, 48)
    out = augmentation(preset)(faces)
    assert out.shape == faces.shape and out.dtype == torch.float32
    assert out.min() >= -1e-6 and out.max() <= 1 + 1e-6, "stays a [0, 1] image before normalize"
    changed = (out - faces).abs().flatten(1).amax(1) > 1e-4
    assert changed.all() if preset != "none" else not changed.any()


def test_wild_blurs_and_shifts_exposure_on_some_images_only() -> None:
    """Blur (p = 0.3) and gamma (p = 0.5) are per image: a flat-gray batch shows them apart from the affine."""
    torch.manual_seed(0)
    gray = torch.full((256, 1, 48, 48), 0.5)
    means = augmentation("wild")(gray).mean(dim=(1, 2, 3))
    shifted = (means - 0.5).abs() > 0.02  # gamma, brightness or contrast moved the gray level
    assert 0.3 < shifted.float().mean() < 0.95, shifted.float().mean()


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown augmentation preset 'wilder'"):
        augmentation("wilder")
