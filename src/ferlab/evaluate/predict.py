"""Model logits for uint8 face images, with optional test-time augmentation (TTA)."""

from __future__ import annotations

from typing import Optional

import numpy as np
import torch
from torch import nn

from ferlab.data.transforms import TTA_MODES, fit_to_model, normalize, tta_views, to_tensor_batch
from ferlab.evaluate.options import check_batch_size, check_choice


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_inputs(images: np.ndarray, model: nn.Module) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or ``(B, H, W, 3)`` images → normalised ``(B, C, H, W)`` fit to the model's input."""
    return sized_inputs(images, (model.in_chans, *model.input_size[1:]))


def sized_inputs(images: np.ndarray, input_size: tuple[int, int, int]) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or ``(B, H, W, 3)`` images → normalised ``(B, C, H, W)`` for ``input_size``."""
    batch = to_tensor_batch(torch.from_numpy(np.ascontiguousarray(images)))
    return normalize(fit_to_model(batch, input_size[0], tuple(input_size[1:])))


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
