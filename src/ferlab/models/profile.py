"""Model size and cost, measured: parameter counts and forward FLOPs.

FLOPs are counted by running the model under ``torch.utils.flop_counter.FlopCounterMode``
(nothing is estimated from layer shapes). That counter covers matrix products and
convolutions and counts a multiply-add as 2 FLOPs; element-wise work (activations,
normalisation, pooling, interpolation, grid sampling) is not counted.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ferlab.models.registry import create_model, get_model_info, list_models


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameter elements of `model` (only those requiring grad if asked)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def measure_flops(model: nn.Module, input_size: tuple[int, int, int]) -> int:
    """Forward FLOPs of `model` for one image of ``(channels, height, width)``.

    The model runs once in eval mode (restored afterwards) without autograd, on the
    device and dtype of its parameters; models on the ``meta`` device are measured
    without computing anything.
    """
    param = next(model.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.get_default_dtype()
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.zeros((1, *input_size), device=device, dtype=dtype))
    finally:
        model.train(was_training)
    return counter.get_total_flops()


@dataclass(frozen=True)
class ModelProfile:
    """Size and cost of a registered model in its default configuration."""

    name: str
    input_size: tuple[int, int, int]
    params: int
    flops: int
    description: str


def profile_model(name: str) -> ModelProfile:
    """Profile ``create_model(name)`` at its default input size.

    The model is built on the ``meta`` device, so no weights are allocated and the
    forward pass only propagates shapes while the FLOPs are counted.
    """
    info = get_model_info(name)
    with torch.device("meta"):
        model = create_model(name)
    return ModelProfile(
        name=name,
        input_size=info.input_size,
        params=count_parameters(model),
        flops=measure_flops(model, info.input_size),
        description=info.description,
    )


def profile_models() -> list[ModelProfile]:
    """`profile_model` for every registered model, in `list_models` order."""
    return [profile_model(name) for name in list_models()]
