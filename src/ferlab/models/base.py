"""What every ferlab model shares: the timm-style interface and a few building blocks.

Interface (see `FerModel`):

* attributes ``input_size`` (the ``(C, H, W)`` it was built for; set by `create_model`
  from the registry unless the builder changed it, e.g. ``small_input=True``),
  ``num_classes``, ``in_chans``, ``num_features`` (channels of the
  `forward_features` map) and ``head_hidden_size`` (length of the vector the last
  classifier layer reads, i.e. what `forward` returns when ``num_classes=0``);
* ``forward_features(x)`` returns the last spatial feature map ``B x C x H x W``
  (the layer Grad-CAM hooks), ``forward_head(features)`` turns it into logits, and
  ``forward(x) == forward_head(forward_features(x))``;
* ``forward_explain(x)`` returns a dict with ``"logits"`` plus model-specific tensors
  worth looking at (attention maps, warped inputs, ...);
* ``training_outputs(x)`` is what the trainer calls: ``{"logits": ...}``, plus
  ``"aux_loss"`` for a model that brings a loss term of its own (RAN's region-biased
  loss), which the trainer adds to the label loss;
* ``in_chans_layers`` / ``head_layers`` name the modules whose weight shapes depend on
  ``in_chans`` / ``num_classes``, so `ferlab.models.pretrained` knows which tensors of a
  weights file may be adapted or skipped.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import nn

from ferlab.errors import ModelError

if TYPE_CHECKING:
    from ferlab.models.pretrained import LoadReport
    from ferlab.preprocess import Preprocessing

ActLayer = Callable[[int], nn.Module]
"""Builds an activation module for a given channel count (PReLU needs it, ReLU ignores it)."""


def make_relu(channels: int) -> nn.Module:
    """ReLU activation factory (`ActLayer`); the channel count is not needed."""
    return nn.ReLU()


def make_prelu(channels: int) -> nn.Module:
    """Channel-wise PReLU activation factory (`ActLayer`)."""
    return nn.PReLU(channels)


class FerModel(nn.Module, ABC):
    """Base class of every ferlab model: the shared forward, explain and bookkeeping parts.

    Subclasses set ``num_classes``, ``in_chans``, ``num_features`` and ``head_hidden_size``
    in ``__init__`` and implement `forward_features` and `forward_head`.
    """

    input_size: tuple[int, int, int]
    num_classes: int
    in_chans: int
    num_features: int
    head_hidden_size: int
    in_chans_layers: tuple[str, ...] = ()
    head_layers: tuple[str, ...] = ()
    pretrained_report: LoadReport | None = None
    """Set by `create_model` when it loaded a weights file."""
    preprocessing: Preprocessing | None = None
    """Set by `ferlab.models.files.load_model`: the preprocessing the model file stores."""

    @abstractmethod
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Return the last spatial feature map, ``B x num_features x H' x W'``."""

    @abstractmethod
    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Turn `forward_features` output into logits ``B x num_classes``.

        With ``num_classes=0`` the classifier is an identity and this returns the
        ``B x head_hidden_size`` pre-logits vector instead.
        """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of images ``B x in_chans x H x W``."""
        return self.forward_head(self.forward_features(x))

    def forward_explain(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits plus the internals worth visualising; here the last feature map."""
        features = self.forward_features(x)
        return {"logits": self.forward_head(features), "features": features}

    def training_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The training forward pass: ``{"logits": ...}``, and ``"aux_loss"`` (a scalar the
        trainer adds to the label loss) in a model with a loss term of its own."""
        return {"logits": self(x)}


def make_classifier(in_features: int, num_classes: int) -> nn.Module:
    """The final linear layer, or an identity when ``num_classes == 0`` (feature extractor)."""
    return nn.Linear(in_features, num_classes) if num_classes > 0 else nn.Identity()


def conv2d(in_chs: int, out_chs: int, kernel_size: int | tuple[int, int] = 3, stride: int = 1) -> nn.Conv2d:
    """A bias-free convolution (batch norm follows) with 'same' padding for odd kernels."""
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    return nn.Conv2d(in_chs, out_chs, (kh, kw), stride=stride, padding=(kh // 2, kw // 2), bias=False)


def conv_bn(in_chs: int, out_chs: int, kernel_size: int | tuple[int, int] = 3, stride: int = 1) -> nn.Sequential:
    """`conv2d` followed by batch norm, no activation (residual branches, projections)."""
    return nn.Sequential(conv2d(in_chs, out_chs, kernel_size, stride), nn.BatchNorm2d(out_chs))


class ConvBnAct(nn.Sequential):
    """Convolution, batch norm, activation: the unit most ferlab CNNs are built from."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int | tuple[int, int] = 3,
        stride: int = 1,
        act_layer: ActLayer = make_relu,
    ) -> None:
        super().__init__()
        self.conv = conv2d(in_chs, out_chs, kernel_size, stride)
        self.bn = nn.BatchNorm2d(out_chs)
        self.act = act_layer(out_chs)


def check_rate(name: str, value: float) -> float:
    """Validate a probability-like option (dropout rate) and return it."""
    if not 0.0 <= value < 1.0:
        raise ModelError(f"{name} must be in [0, 1), got {value}")
    return value


def check_widths(name: str, widths: tuple[int, ...], length: int | None = None) -> tuple[int, ...]:
    """Validate a tuple of positive layer widths (of a given length, if any) and return it."""
    if (
        not isinstance(widths, (tuple, list))
        or len(widths) == 0
        or (length is not None and len(widths) != length)
        or not all(isinstance(w, int) and not isinstance(w, bool) and w > 0 for w in widths)
    ):
        count = f"{length}" if length is not None else "one or more"
        raise ModelError(f"{name} must be {count} positive integers, got {widths!r}")
    return tuple(widths)
