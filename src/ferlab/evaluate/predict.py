"""Model logits for uint8 face images, with optional test-time augmentation (TTA)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ferlab.data.transforms import MEAN, STD, TTA_MODES, fit_to_model, normalize, to_tensor_batch, tta_views
from ferlab.evaluate.options import check_batch_size, check_choice


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_inputs(images: np.ndarray, model: nn.Module) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or ``(B, H, W, 3)`` images → normalised ``(B, C, H, W)`` fit to the model's input."""
    return sized_inputs(images, (model.in_chans, *model.input_size[1:]))


def sized_inputs(images: np.ndarray, input_size: tuple[int, int, int]) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or ``(B, H, W, 3)`` images → normalised ``(B, C, H, W)`` for ``input_size``.

    Images already at the model's size and channel count (the face pipeline's crops) are
    scaled in numpy, one thread: torch's parallel kernels would leave their OpenMP threads
    spinning after the call, and ONNX Runtime, which runs next on the same cores, lost
    10-15% of its batch-64 throughput to them (1,136 against 1,352 faces/s, 2-core CPU).
    The result is the same as `to_tensor_batch`, `fit_to_model` and `normalize` in turn.
    """
    channels, *size = input_size
    images = np.asarray(images)
    if tuple(images.shape[1:3]) == tuple(size) and (images.ndim == 3) == (channels == 1):
        x = images[:, None] if images.ndim == 3 else images.transpose(0, 3, 1, 2)
        scaled = x.astype(np.float32) * np.float32(1 / 255)
        return torch.from_numpy(np.ascontiguousarray((scaled - np.float32(MEAN)) / np.float32(STD)))
    batch = to_tensor_batch(torch.from_numpy(np.ascontiguousarray(images)))
    return normalize(fit_to_model(batch, channels, tuple(size)))


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: np.ndarray,
    tta: str = "none",
    batch_size: int = 256,
    device: Optional[torch.device] = None,
) -> torch.Tensor:
    """Logits ``(N, num_classes)`` (float32, on the CPU) of ``model`` for uint8 ``images``.

    Each batch goes through `model_inputs`, then `ferlab.data.transforms.tta_views`
    (``none``: 1 view, ``flip``: 2, ``tencrop``: 10); the **logits** (not the
    probabilities) of the views are averaged, so a temperature fitted afterwards scales
    the averaged prediction exactly like a single-view one. The model is put in eval
    mode and moved to ``device`` (default: `default_device`). Inputs are passed in
    channels-last layout, which convolutions run faster in on the CPU (see `ferlab.engine`).
    """
    check_choice(tta, TTA_MODES, "TTA mode")
    check_batch_size(batch_size)
    device = device or default_device()
    model.eval().to(device)
    outputs = []
    for start in range(0, len(images), batch_size):
        x = model_inputs(images[start:start + batch_size], model).to(device, memory_format=torch.channels_last)
        views = [model(view) for view in tta_views(x, tta)]
        outputs.append(torch.stack(views).mean(dim=0).float().cpu())
    if not outputs:
        return torch.empty(0, model.num_classes)
    return torch.cat(outputs)
