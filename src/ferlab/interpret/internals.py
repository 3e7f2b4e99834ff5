"""Looking inside a network: intermediate activation maps and Grad-CAM.

Both work on any `FerModel`. Models that run their backbone on several views of each image
(RAN: the face and its region crops, stacked along the batch) are read on the first view
of each image, the whole face, so every map lines up with the input image.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ferlab.errors import ModelError
from ferlab.models.base import FerModel
from ferlab.models.ran import RegionAttentionNet


def whole_image_view(tensor: torch.Tensor, batch: int) -> torch.Tensor:
    """The first of the views a layer saw per image: ``(batch * V, ...)`` → ``(batch, ...)``."""
    return tensor.unflatten(0, (batch, -1))[:, 0]


@dataclass(frozen=True)
class LayerActivation:
    """The output of one convolution for a batch: its first channels, on the CPU."""

    name: str
    """Module name in ``model.named_modules()``."""
    maps: torch.Tensor
    """``B x k x H x W``: the first ``k`` channels."""
    channels: int
    """How many channels the layer has in all."""


@torch.no_grad()
def activation_maps(model: nn.Module, x: torch.Tensor, layers: int = 4, channels: int = 8) -> list[LayerActivation]:
    """Outputs of ``layers`` convolutions spread evenly over the network, in the order they run.

    Every ``nn.Conv2d`` whose output is spatial (at least 2x2) is recorded with a forward
    hook during one forward pass of ``x``; ``layers`` of them, first and last included,
    are kept, each with its first ``channels`` channels.
    """
    recorded: list[LayerActivation] = []

    def recorder(name: str) -> Callable[[nn.Module, tuple, torch.Tensor], None]:
        def record(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            if min(output.shape[-2:]) > 1:
                maps = whole_image_view(output, len(x))[:, :channels].float().cpu().clone()
                recorded.append(LayerActivation(name, maps, output.shape[1]))

        return record

    handles = [
        module.register_forward_hook(recorder(name))
        for name, module in model.named_modules()
        if isinstance(module, nn.Conv2d)
    ]
    try:
        model(x)
    finally:
        for handle in handles:
            handle.remove()
    if not recorded:
        raise ModelError(f"{type(model).__name__} has no convolution with a spatial output to show")
    picks = np.linspace(0, len(recorded) - 1, min(layers, len(recorded))).round().astype(int)
    return [recorded[i] for i in picks]


def feature_model(model: FerModel) -> FerModel:
    """The model whose `forward_features` map Grad-CAM reads.

    The model itself, except for RAN, whose `forward_features` is the aggregated 1x1
    representation: there it is the backbone's last map (of the whole-face view).
    """
    return model.backbone if isinstance(model, RegionAttentionNet) else model


@contextmanager
def _captured_features(owner: FerModel) -> Iterator[list[torch.Tensor]]:
    """Record the outputs of ``owner.forward_features`` while the block runs."""
    captured: list[torch.Tensor] = []
    original = owner.forward_features

    def capture(x: torch.Tensor) -> torch.Tensor:
        features = original(x)
        captured.append(features)
        return features

    owner.forward_features = capture
    try:
        yield captured
    finally:
        del owner.forward_features


@contextmanager
def _captured_layer(model: nn.Module, layer: str) -> Iterator[list[torch.Tensor]]:
    """Record the outputs of ``model``'s submodule named ``layer`` while the block runs."""
    modules = dict(model.named_modules())
    if not layer or layer not in modules:
        shown = [name for name in modules if name and name.count(".") <= 1][:16]
        raise ModelError(f"{type(model).__name__} has no layer {layer!r}; its layers include {', '.join(shown)}")
    captured: list[torch.Tensor] = []
    handle = modules[layer].register_forward_hook(lambda module, inputs, output: captured.append(output))
    try:
        yield captured
    finally:
        handle.remove()


def grad_cam(
    model: FerModel, x: torch.Tensor, classes: torch.Tensor | None = None, layer: str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Grad-CAM (Selvaraju et al., ICCV 2017) of ``classes`` (default: the predicted ones).

    The gradient of each image's class logit with respect to a feature map, averaged over
    space, weighs that map's channels; the weighted sum, through a ReLU, is upsampled
    bilinearly to the input size and scaled so each image's maximum is 1 (an all-zero map
    stays zero). The map is the `feature_model`'s `forward_features` output, or the output
    of the module named ``layer`` (a name of ``model.named_modules()``, e.g. ``stages.2``):
    an earlier, finer map helps where the last one is only 3x3. For ``deep_emotion`` the
    map is in the frame of the spatially transformed input.

    Returns the maps ``B x H x W`` in [0, 1] and the logits ``B x num_classes``.

    Raises:
        ModelError: no module ``layer``, or its output is not a ``B x C x H x W`` map.
    """
    capturing = _captured_features(feature_model(model)) if layer is None else _captured_layer(model, layer)
    with torch.enable_grad(), capturing as captured:
        logits = model(x.detach().requires_grad_(True))
        if not captured or not isinstance(captured[0], torch.Tensor) or captured[0].ndim != 4:
            shape = tuple(captured[0].shape) if captured and isinstance(captured[0], torch.Tensor) else None
            raise ModelError(f"layer {layer!r} gives {shape or 'no tensor'}, not a B x C x H x W feature map")
        target = logits.argmax(dim=1) if classes is None else classes.to(logits.device)
        (gradients,) = torch.autograd.grad(logits.gather(1, target[:, None]).sum(), captured[0])
    features = whole_image_view(captured[0].detach(), len(x))
    weights = whole_image_view(gradients, len(x)).mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * features).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]
    return cam / cam.amax(dim=(1, 2), keepdim=True).clamp_min(1e-12), logits.detach()
