"""Inception-ResNet-v1 sized for 48x48 faces, with an optional PReLU variant."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from ferlab.errors import ModelError
from ferlab.models.base import (
    ActLayer,
    ConvBnAct,
    FerModel,
    check_rate,
    make_classifier,
    make_prelu,
    make_relu,
)
from ferlab.models.registry import register_model


class ResidualInception(nn.Module):
    """Parallel branches, concatenated, 1x1 linear up-projection, scaled, added to the input."""

    def __init__(
        self, branches: Sequence[nn.Module], branch_chs: int, chs: int, scale: float, act_layer: ActLayer
    ) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)
        self.up = nn.Conv2d(branch_chs, chs, 1)
        self.scale = scale
        self.act = act_layer(chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        mixed = torch.cat([branch(x) for branch in self.branches], dim=1)
        return self.act(x + self.scale * self.up(mixed))


class Concat(nn.Module):
    """Parallel branches concatenated along channels (the reduction blocks)."""

    def __init__(self, branches: Sequence[nn.Module]) -> None:
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the branches and concatenate."""
        return torch.cat([branch(x) for branch in self.branches], dim=1)


Widen = Callable[[int], int]
"""Maps one of the paper's channel counts to the model's."""


def _widener(width: float) -> Widen:
    """``chs * unit / 32`` with ``unit = round(32 * width)`` (at least 1): every count of the paper but
    the stem's 80 is a multiple of 32, so the widened branches still add up to the widened blocks."""
    unit = max(1, round(32 * width))
    return lambda chs: max(1, round(chs * unit / 32))


def _chain(act: ActLayer, w: Widen, *specs: tuple[int, int, int | tuple[int, int], int]) -> nn.Sequential:
    """Conv-BN-act units from ``(in, out, kernel, stride)`` specs in the paper's channels, widened by ``w``."""
    return nn.Sequential(*(ConvBnAct(w(i), w(o), k, s, act) for i, o, k, s in specs))


def _block_a(scale: float, act: ActLayer, w: Widen) -> ResidualInception:
    """Inception-ResNet-A on 256 channels (Szegedy et al. Fig. 10)."""
    return ResidualInception(
        [
            _chain(act, w, (256, 32, 1, 1)),
            _chain(act, w, (256, 32, 1, 1), (32, 32, 3, 1)),
            _chain(act, w, (256, 32, 1, 1), (32, 32, 3, 1), (32, 32, 3, 1)),
        ],
        w(96),
        w(256),
        scale,
        act,
    )


def _reduction_a(act: ActLayer, w: Widen) -> Concat:
    """Reduction-A, k=192 l=192 m=256 n=384: 256 -> 896 channels, half the size (Fig. 7)."""
    return Concat(
        [
            nn.MaxPool2d(3, stride=2, padding=1),
            _chain(act, w, (256, 384, 3, 2)),
            _chain(act, w, (256, 192, 1, 1), (192, 192, 3, 1), (192, 256, 3, 2)),
        ]
    )


def _block_factorised(channels: int, mid: int, kernel: int, scale: float, act: ActLayer, w: Widen) -> ResidualInception:
    """Inception-ResNet-B (``channels`` 896, ``mid`` 128, ``kernel`` 7; Fig. 11) or -C (1792, 192, 3;
    Fig. 13): a 1x1 branch and a 1x1 → 1xk → kx1 branch of ``mid`` channels each."""
    factorised = ((channels, mid, 1, 1), (mid, mid, (1, kernel), 1), (mid, mid, (kernel, 1), 1))
    return ResidualInception(
        [_chain(act, w, (channels, mid, 1, 1)), _chain(act, w, *factorised)], w(2 * mid), w(channels), scale, act
    )


def _reduction_b(act: ActLayer, w: Widen) -> Concat:
    """Reduction-B: 896 -> 1792 channels, half the size (Fig. 12)."""
    return Concat(
        [
            nn.MaxPool2d(3, stride=2, padding=1),
            _chain(act, w, (896, 256, 1, 1), (256, 384, 3, 2)),
            _chain(act, w, (896, 256, 1, 1), (256, 256, 3, 2)),
            _chain(act, w, (896, 256, 1, 1), (256, 256, 3, 1), (256, 256, 3, 2)),
        ]
    )


def _triple(value: object) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 3


@register_model(
    "inception_resnet_v1",
    description="Inception-ResNet-v1 for 48x48 faces (prelu=True: PReLU variant of Peng et al.)",
    source="Szegedy et al., Inception-v4/Inception-ResNet, AAAI 2017 (arXiv:1602.07261); "
    "PReLU variant: Peng et al. 2020 as cited in the ferlab issue",
)
class InceptionResNetV1(FerModel):
    """Inception-ResNet-v1 for 48x48 faces; ``prelu=True`` swaps every ReLU for a PReLU.

    Source: Szegedy, Ioffe, Vanhoucke, Alemi, "Inception-v4, Inception-ResNet and the
    Impact of Residual Connections on Learning", AAAI 2017 (arXiv:1602.07261), network
    Inception-ResNet-v1 (Figs. 7, 10-14): stem, 5 x A, Reduction-A, 10 x B, Reduction-B,
    5 x C, average pool, dropout (keep 0.8), classifier; residuals scaled down (0.17, 0.10,
    0.20 here, within the paper's 0.1-0.3). The PReLU variant follows Peng et al. 2020 as
    the ferlab model-zoo issue cites them: Inception-ResNet blocks with (channel-wise) PReLU
    instead of ReLU for facial expression recognition.

    Departures (all to fit 48x48 instead of 299x299):

    * stem: all convs 'same'-padded and stride 1 except one 3x3 max pool and the last
      conv (stride 2), so 48x48 reaches the A blocks at 12x12 (299x299 reaches 35x35);
    * reduction blocks use padding 1 (12 -> 6 -> 3) instead of 'valid' convolutions;
    * batch norm after every conv of the branches (the paper's BN placement is not
      fully specified), none on the linear 1x1 up-projections, which keep their bias;
    * ``repeats`` (default 5, 10, 5) and ``width`` (default 1.0, a multiplier of every
      channel count, rounded) are options so small variants can be built.
    """

    in_chans_layers = ("stem.0.conv",)
    head_layers = ("fc",)

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        prelu: bool = False,
        repeats: tuple[int, int, int] = (5, 10, 5),
        scales: tuple[float, float, float] = (0.17, 0.10, 0.20),
        drop_rate: float = 0.2,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        if not _triple(repeats) or not all(isinstance(r, int) and r >= 0 for r in repeats):
            raise ModelError(f"repeats must be three integers >= 0 (A, B, C blocks), got {repeats!r}")
        if not _triple(scales) or not all(isinstance(s, (int, float)) and 0 < s <= 1 for s in scales):
            raise ModelError(f"scales must be three residual scales in (0, 1], got {scales!r}")
        if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width <= 4:
            raise ModelError(f"width must be a channel multiplier in (0, 4], got {width!r}")
        act = make_prelu if prelu else make_relu
        w = _widener(width)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = self.head_hidden_size = w(1792)
        self.stem = nn.Sequential(
            ConvBnAct(in_chans, w(32), 3, 1, act),
            *_chain(act, w, (32, 32, 3, 1), (32, 64, 3, 1)),
            nn.MaxPool2d(3, stride=2, padding=1),
            *_chain(act, w, (64, 80, 1, 1), (80, 192, 3, 1), (192, 256, 3, 2)),
        )
        n_a, n_b, n_c = repeats
        s_a, s_b, s_c = scales
        self.blocks_a = nn.Sequential(*(_block_a(s_a, act, w) for _ in range(n_a)))
        self.reduction_a = _reduction_a(act, w)
        self.blocks_b = nn.Sequential(*(_block_factorised(896, 128, 7, s_b, act, w) for _ in range(n_b)))
        self.reduction_b = _reduction_b(act, w)
        self.blocks_c = nn.Sequential(*(_block_factorised(1792, 192, 3, s_c, act, w) for _ in range(n_c)))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(check_rate("drop_rate", drop_rate))
        self.fc = make_classifier(self.num_features, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the A/B/C stages; ``B x 1792 width x 3 x 3`` at 48x48."""
        x = self.reduction_a(self.blocks_a(self.stem(x)))
        return self.blocks_c(self.reduction_b(self.blocks_b(x)))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Global average pool, dropout, classifier."""
        return self.fc(self.dropout(self.pool(features).flatten(1)))
