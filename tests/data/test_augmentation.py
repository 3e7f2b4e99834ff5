"""The training augmentation presets on real-sized batches."""

from __future__ import annotations

import pytest
import torch

from ferlab.data.transforms import AUG_PRESETS, GrayJPEG, augmentation


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


def test_gray_jpeg_leaves_block_artefacts_and_compresses_some_images_only() -> None:
    """Quality 10 on a smooth ramp: the 8x8 blocks show as steps at their borders; p = 0.5 per image."""
    ramp = torch.linspace(0.2, 0.8, 48).repeat(48, 1)
    faces = ramp.expand(200, 1, 48, 48).clone()
    torch.manual_seed(0)
    out = GrayJPEG(quality=(10.0, 10.0), p=0.5)(faces)
    assert out.shape == faces.shape
    compressed = (out - faces).abs().flatten(1).amax(1) > 0.01
    assert 0.35 < compressed.float().mean() < 0.65, compressed.float().mean()
    steps = out[compressed][..., 24, 1:] - out[compressed][..., 24, :-1]
    assert steps.abs()[..., 7::8].mean() > 2 * steps.abs().mean(), "no jump at the 8-pixel block borders"
    rgb = GrayJPEG(quality=(10.0, 10.0), p=1.0)(torch.rand(4, 3, 48, 48))
    assert rgb.shape == (4, 3, 48, 48)


def test_unknown_preset_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown augmentation preset 'wilder'"):
        augmentation("wilder")
