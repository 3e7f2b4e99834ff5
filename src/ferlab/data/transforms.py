"""Turning uint8 image batches into model inputs: scaling, normalisation, augmentation, TTA views.

Training augments whole batches with per-image random parameters (Kornia), because a
per-image torchvision v2 pipeline costs 789 us per 48x48 image on this CPU against 89 us
batched, 8.8x more (``python bench/augment_speed.py``, 1 thread, 2026-11-23). Deterministic batch operations
(resize, ten-crop, flips for TTA) use torchvision v2's functional API.
"""

from __future__ import annotations

import kornia.augmentation as K
import torch
from torch import nn
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ferlab.checks import check_choice
from ferlab.data.augment_choices import AUG_PRESETS, MIX_MODES
from ferlab.preprocess import MEAN, STD


def to_tensor_batch(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or ``(B, H, W, 3)`` → float ``(B, C, H, W)`` in [0, 1]."""
    x = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    return TF.to_dtype(x, torch.float32, scale=True)


def fit_to_model(x: torch.Tensor, in_chans: int, size: tuple[int, int]) -> torch.Tensor:
    """Adapt a [0, 1] batch to the model's channels (gray↔RGB) and spatial size."""
    if x.shape[1] != in_chans:
        x = x.expand(-1, 3, -1, -1) if in_chans == 3 else TF.rgb_to_grayscale(x)
    if tuple(x.shape[-2:]) != tuple(size):
        x = TF.resize(x, list(size), antialias=True)
    return x


def normalize(x: torch.Tensor) -> torch.Tensor:
    """Scale a [0, 1] batch to zero mean and unit deviation with the FER2013 statistics."""
    return (x - MEAN) / STD


def augmentation(preset: str) -> nn.Module:
    """The batch augmentation of a preset, applied to [0, 1] batches before `normalize`.

    * ``none``: identity.
    * ``basic``: the classic FER2013 study's Keras set: horizontal flip, rotation ±10°,
      shifts ±10%, zoom ±10%.
    * ``strong``: flip, rotation ±15°, shifts ±12%, zoom ±15%, brightness/contrast ±30%,
      random erasing (cutout) of 2-20% of the image with p = 0.5.
    * ``wild``: for the gap between dataset crops and faces found in photos and films (issue
      #19): flip; rotation ±10°, shifts ±10% and zoom 0.85-1.2 (a detector box's jitter);
      Gaussian blur with sigma 0.1-1.5 (p = 0.3: defocus, upscaled small faces); gamma 0.6-1.6
      (p = 0.5: exposure); contrast ±40% and brightness ±20% (p = 0.5); one erased patch of
      2-15% (p = 0.25: a hand or an object in front of the face).
    * ``jpeg``: ``basic``, then JPEG compression at quality 20-80 (p = 0.5: web photos and
      video frames), `GrayJPEG`.
    """
    check_choice(preset, AUG_PRESETS, "augmentation preset")
    if preset == "none":
        return nn.Identity()
    if preset == "basic":
        return K.AugmentationSequential(
            K.RandomHorizontalFlip(),
            K.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1), padding_mode="reflection", p=1.0),
        )
    if preset == "jpeg":
        return nn.Sequential(augmentation("basic"), GrayJPEG(quality=(20.0, 80.0), p=0.5))
    if preset == "wild":
        return K.AugmentationSequential(
            K.RandomHorizontalFlip(),
            K.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.85, 1.2), padding_mode="reflection", p=1.0),
            K.RandomGaussianBlur((5, 5), (0.1, 1.5), p=0.3),
            K.RandomGamma((0.6, 1.6), p=0.5),
            K.ColorJiggle(brightness=0.2, contrast=0.4, p=0.5),
            K.RandomErasing(scale=(0.02, 0.15), p=0.25),
        )
    return K.AugmentationSequential(  # strong
        K.RandomHorizontalFlip(),
        K.RandomAffine(degrees=15, translate=(0.12, 0.12), scale=(0.85, 1.15), padding_mode="reflection", p=1.0),
        K.ColorJiggle(brightness=0.3, contrast=0.3, p=0.8),
        K.RandomErasing(scale=(0.02, 0.2), p=0.5),
    )


class GrayJPEG(nn.Module):
    """Kornia's ``RandomJPEG`` (per-image quality and chance) for gray batches too.

    A gray image goes through it as RGB with three equal channels, whose luma is the gray
    value and whose chroma is empty, and comes back as the mean of the three.
    """

    def __init__(self, quality: tuple[float, float], p: float) -> None:
        super().__init__()
        self.jpeg = K.RandomJPEG(jpeg_quality=quality, p=p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 3:
            return self.jpeg(x)
        return self.jpeg(x.expand(-1, 3, -1, -1)).mean(dim=1, keepdim=True)


def batch_mixing(mode: str, alpha: float, num_classes: int) -> nn.Module | None:
    """Mixing of images and their targets across a batch (torchvision v2), None for ``none``.

    * ``mixup`` (Zhang et al. 2018): ``lam * x + (1 - lam) * x_other``, ``lam ~ Beta(alpha, alpha)``;
    * ``cutmix`` (Yun et al. 2019): a box of ``1 - lam`` of the area pasted from another image;
    * ``both``: one of the two, chosen per batch with equal chance.

    The module takes ``(images, target)``, target class indices ``(B,)`` or distributions
    ``(B, C)``, and returns the mixed images and mixed target distributions ``(B, C)``.
    """
    if mode == "none":
        return None
    mixes = {
        "mixup": [v2.MixUp(alpha=alpha, num_classes=num_classes)],
        "cutmix": [v2.CutMix(alpha=alpha, num_classes=num_classes)],
    }
    mixes["both"] = mixes["mixup"] + mixes["cutmix"]
    check_choice(mode, MIX_MODES, "mixing")
    return mixes[mode][0] if len(mixes[mode]) == 1 else v2.RandomChoice(mixes[mode])
