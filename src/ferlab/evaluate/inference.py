"""Model logits for uint8 face images, with optional test-time augmentation (TTA)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ferlab.checks import check_batch_size
from ferlab.preprocess import model_inputs as preprocessed
from ferlab.preprocess import preprocessing_of, tta_views


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def model_inputs(images: np.ndarray, model: nn.Module) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or ``(B, H, W, 3)`` images → normalised ``(B, C, H, W)`` fit to the model's input
    (`ferlab.preprocess.model_inputs` with the model's stored or default preprocessing)."""
    return torch.from_numpy(preprocessed(images, preprocessing_of(model)))


@torch.inference_mode()
def predict_logits(
    model: nn.Module,
    images: np.ndarray,
    tta: str = "none",
    batch_size: int = 256,
    device: torch.device | None = None,
) -> torch.Tensor:
    """Logits ``(N, num_classes)`` (float32, on the CPU) of ``model`` for uint8 ``images``.

    Each batch goes through `model_inputs`, then `ferlab.preprocess.tta_views` (``none``: 1
    view, ``flip``: 2, ``tencrop``: 10); the **logits** (not the probabilities) of the views
    are averaged, so a temperature fitted afterwards scales the averaged prediction exactly
    like a single-view one. The model is put in eval mode and moved to ``device`` (default:
    `default_device`). Inputs are passed in channels-last layout, which convolutions run
    faster in on the CPU (see `ferlab.engine`). The ONNX Runtime backend of the application
    (`ferlab.app.onnx_runtime`) runs the same views of the same inputs.
    """
    check_batch_size(batch_size)
    device = device or default_device()
    model.eval().to(device)
    preprocessing = preprocessing_of(model)
    outputs = []
    for start in range(0, len(images), batch_size):
        x = preprocessed(images[start : start + batch_size], preprocessing)
        views = [
            model(torch.from_numpy(view).to(device, memory_format=torch.channels_last)) for view in tta_views(x, tta)
        ]
        outputs.append(torch.stack(views).mean(dim=0).float().cpu())
    if not outputs:
        return torch.empty(0, model.num_classes)
    return torch.cat(outputs)
