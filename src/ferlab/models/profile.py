"""Model size and cost, measured: parameter counts, forward FLOPs and inference speed.

FLOPs are counted by running the model under ``torch.utils.flop_counter.FlopCounterMode``
(nothing is estimated from layer shapes). That counter covers matrix products and
convolutions and counts a multiply-add as 2 FLOPs; element-wise work (activations,
normalisation, pooling, interpolation, grid sampling) is not counted.
"""

from __future__ import annotations

import statistics
import time
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


@dataclass(frozen=True)
class InferenceSpeed:
    """Measured inference speed of a model on one device."""

    device: str
    latency_ms: float
    """Median wall time of one forward pass of a single image, in milliseconds."""
    batch_size: int
    images_per_s: float
    """Images per second at ``batch_size``, from the median time of one batch."""


def time_forward(
    model: nn.Module,
    input_size: tuple[int, int, int],
    batch_size: int,
    device: torch.device,
    seconds: float = 1.0,
    min_repeats: int = 3,
) -> list[float]:
    """Wall seconds of repeated forward passes of a random ``(batch_size, *input_size)`` batch.

    The model is moved to ``device`` and put in eval mode; inputs are channels-last float32,
    run under ``torch.inference_mode`` (as `ferlab.evaluate.predict_logits` runs them). One
    untimed pass warms up, then passes are timed (CUDA synchronised) until ``seconds`` have
    been spent and at least ``min_repeats`` were timed.
    """
    model.eval().to(device)
    x = torch.randn((batch_size, *input_size), device=device).contiguous(memory_format=torch.channels_last)
    times: list[float] = []
    with torch.inference_mode():
        model(x)
        while sum(times) < seconds or len(times) < min_repeats:
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            model(x)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            times.append(time.perf_counter() - start)
    return times


def measure_inference_speed(
    model: nn.Module, input_size: tuple[int, int, int], device: torch.device, seconds: float = 1.0, batch_size: int = 64
) -> InferenceSpeed:
    """Latency at batch 1 and throughput at ``batch_size`` on ``device``, each timed for about ``seconds``.

    Medians of `time_forward` runs, so a pass slowed by another job on the machine does not
    skew the figure. The model is left on ``device`` in eval mode.
    """
    latency = statistics.median(time_forward(model, input_size, 1, device, seconds))
    batch = statistics.median(time_forward(model, input_size, batch_size, device, seconds))
    return InferenceSpeed(str(device), latency * 1e3, batch_size, batch_size / batch)
