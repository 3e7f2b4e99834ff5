"""LeNet-like, VGG-like and ResNet-like CNNs for 48x48 FER2013-style faces.

The three baselines of the "LeNet-like / VGGNet-like / ResNet-like" FER2013 study the
ferlab model-zoo issue names: 3x3 filters, batch norm after every convolution and hidden
fully connected layer, max pooling to halve the resolution, one hidden FC layer before the
classifier. They are one class, `FerCNN`, in three configurations.
"""

from __future__ import annotations

import torch
from torch import nn

from ferlab.models.base import FerModel, check_rate, check_widths, conv_bn, make_classifier
from ferlab.models.registry import register_model

_SOURCE = (
    "LeNet-like / VGGNet-like / ResNet-like CNNs of the FER2013 comparison named in the "
    "ferlab model-zoo issue (3x3 filters, BN after every conv and hidden FC); "
    "LeCun et al. 1998, Simonyan & Zisserman 2015 (arXiv:1409.1556), He et al. 2016 "
    "(arXiv:1512.03385) for the parent designs"
)
_DESIGN_SIZE = 48


class ConvUnit(nn.Module):
    """3x3 conv, batch norm, ReLU; with a shortcut added before the ReLU when residual.

    The shortcut is the identity when the unit keeps the width and a 1x1 conv + batch
    norm projection when it changes it (He et al. 2016, option B).
    """

    def __init__(self, in_chs: int, out_chs: int, residual: bool) -> None:
        super().__init__()
        self.conv = conv_bn(in_chs, out_chs, 3)
        self.shortcut: nn.Module | None = None
        if residual:
            self.shortcut = nn.Identity() if in_chs == out_chs else conv_bn(in_chs, out_chs, 1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the unit."""
        out = self.conv(x)
        if self.shortcut is not None:
            out = out + self.shortcut(x)
        return self.act(out)


class FerCNN(FerModel):
    """Stages of 3x3 `ConvUnit`s, each stage ending in a 2x2 max pool, then FC-BN-ReLU-dropout-FC.

    Source: the LeNet-like / VGGNet-like / ResNet-like FER2013 study named in the ferlab
    issue (see `_SOURCE`): LeNet-like = 3 conv + 2 FC with max pooling after each conv,
    VGG-like = its 10-layer deepening (8 conv in 4 stages of 2, + 2 FC), ResNet-like = the
    VGG-like with shortcuts.

    Departures:

    * the study's exact layer widths and dropout rate were not available to us; the
      widths (``widths``, ``hidden``) and ``drop_rate=0.5`` are our choices and options;
    * ResNet-like puts a shortcut around every conv layer (identity where the layer keeps
      the width, 1x1 projection where it changes it) rather than around pairs as in He et
      al.: in this width schedule every pair changes width, so pairwise shortcuts would
      all be projections and "identity shortcuts" would never occur;
    * an adaptive average pool to the 48x48 grid (6x6 or 3x3) sits before the flatten, as
      torchvision's VGG does: it is the identity at 48x48 and lets larger inputs through.
    """

    in_chans_layers = ("stages.0.0.conv.0", "stages.0.0.shortcut.0")
    head_layers = ("classifier",)

    def __init__(
        self,
        num_classes: int,
        in_chans: int,
        widths: tuple[int, ...],
        hidden: int,
        drop_rate: float,
        *,
        convs_per_stage: int,
        residual: bool,
    ) -> None:
        super().__init__()
        widths = check_widths("widths", widths)
        hidden = check_widths("hidden", (hidden,))[0]
        drop_rate = check_rate("drop_rate", drop_rate)
        self.num_classes = num_classes
        self.in_chans = in_chans
        stages = []
        chs = in_chans
        for width in widths:
            units: list[nn.Module] = []
            for _ in range(convs_per_stage):
                units.append(ConvUnit(chs, width, residual))
                chs = width
            stages.append(nn.Sequential(*units, nn.MaxPool2d(2)))
        self.stages = nn.Sequential(*stages)
        self.num_features = chs
        self.head_hidden_size = hidden
        grid = max(1, _DESIGN_SIZE // 2 ** len(widths))
        self.pool = nn.AdaptiveAvgPool2d(grid)
        self.hidden = nn.Sequential(
            nn.Flatten(),
            nn.Linear(chs * grid * grid, hidden, bias=False),
            nn.BatchNorm1d(hidden),
            nn.ReLU(),
            nn.Dropout(drop_rate),
        )
        self.classifier = make_classifier(hidden, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Conv stages; ``B x widths[-1] x 6 x 6`` (LeNet-like) or ``x 3 x 3`` at 48x48."""
        return self.stages(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Pool to the 48x48 grid, flatten, hidden FC, classifier."""
        return self.classifier(self.hidden(self.pool(features)))


def _register_variant(
    name: str, description: str, convs_per_stage: int, residual: bool, widths: tuple[int, ...], hidden: int
) -> None:
    """Register one `FerCNN` shape under ``name``: a builder whose defaults are its published
    widths; the three CNNs differ only in these declared values, so one builder serves them."""

    def builder(
        num_classes: int = 7,
        in_chans: int = 1,
        widths: tuple[int, ...] = widths,
        hidden: int = hidden,
        drop_rate: float = 0.5,
    ) -> FerCNN:
        return FerCNN(
            num_classes, in_chans, widths, hidden, drop_rate, convs_per_stage=convs_per_stage, residual=residual
        )

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = description
    register_model(name, description=description, source=_SOURCE)(builder)


_register_variant(
    "lenet_like",
    "LeNet-like CNN: 3 conv (max-pool after each) + 2 FC, batch norm throughout",
    1,
    False,
    (32, 64, 128),
    256,
)
_register_variant(
    "vgg_like",
    "VGG-like CNN: 8 conv in 4 stages of 2 + 2 FC (10 layers), batch norm throughout",
    2,
    False,
    (64, 128, 256, 512),
    512,
)
_register_variant(
    "resnet_like",
    "ResNet-like CNN: the VGG-like with identity / 1x1-projection shortcuts",
    2,
    True,
    (64, 128, 256, 512),
    512,
)
