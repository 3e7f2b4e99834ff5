"""torchvision's ResNet-18/34/50 and VGG-16 behind the ferlab interface.

The classes subclass torchvision's, so parameter names are torchvision's and a state dict
saved from ``torchvision.models.resnet18()`` (e.g. ImageNet weights fetched elsewhere)
loads with ``pretrained=PATH``.

Input size: by default the ImageNet layout, 224x224 (in ``in_chans`` channels; ferlab's
default is 1, grayscale). ``small_input=True`` adapts the network to 48x48 faces instead.
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck
from torchvision.models.vgg import cfgs as vgg_cfgs
from torchvision.models.vgg import make_layers as make_vgg_layers

from ferlab.errors import ModelError
from ferlab.models.base import FerModel, check_rate, make_classifier
from ferlab.models.registry import register_model

_TV_SOURCE = "torchvision.models ({}), https://github.com/pytorch/vision"
_RESNET_SOURCE = "He et al., Deep Residual Learning, CVPR 2016 (arXiv:1512.03385); " + _TV_SOURCE
_VGG_SOURCE = "Simonyan & Zisserman, Very Deep ConvNets, ICLR 2015 (arXiv:1409.1556); " + _TV_SOURCE


def _fresh_conv(in_chans: int, out_chs: int, kernel_size: int, stride: int, bias: bool) -> nn.Conv2d:
    """A replacement first conv, initialised the way torchvision initialises its convs."""
    conv = nn.Conv2d(in_chans, out_chs, kernel_size, stride, kernel_size // 2, bias=bias)
    nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


class ResNet(FerModel, torchvision.models.ResNet):
    """torchvision ResNet with a ``num_classes`` head, ``in_chans`` input and a 48x48 option.

    Source: He et al., "Deep Residual Learning for Image Recognition", CVPR 2016, as
    implemented by torchvision (whose parameter names are kept).

    Departures:

    * ``in_chans=1`` (the ferlab default) gives conv1 one input channel; loading RGB
      weights sums its filters over R, G, B;
    * ``small_input=True`` (48x48 faces): conv1 is 3x3 stride 1 instead of 7x7 stride 2
      and the stem max-pool is removed, so a 48x48 input ends in a 6x6 map instead of 2x2
      (like the paper's CIFAR-10 networks, Sec. 4.2, which start with a 3x3 conv and no
      pooling). Its conv1 cannot take ImageNet weights and is skipped when loading them.
    * ``width`` (default 64, the paper's) sets the first stage's channels; the stages are
      ``width, 2 width, 4 width, 8 width``, to scale the network to a compute budget
      (ImageNet weights only fit the default).
    """

    in_chans_layers = ("conv1",)
    head_layers = ("fc",)

    def __init__(
        self,
        block: type[BasicBlock | Bottleneck],
        layers: list[int],
        num_classes: int,
        in_chans: int,
        small_input: bool,
        width: int = 64,
    ) -> None:
        torchvision.models.ResNet.__init__(self, block, layers)
        if width != 64:
            self._rebuild_stages(block, layers, width)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = self.head_hidden_size = self.fc.in_features
        if small_input:
            self.input_size = (in_chans, 48, 48)
            self.conv1 = _fresh_conv(in_chans, width, 3, 1, bias=False)
            self.maxpool = nn.Identity()
        elif in_chans != 3 or width != 64:
            self.conv1 = _fresh_conv(in_chans, width, 7, 2, bias=False)
        self.fc = make_classifier(self.num_features, num_classes)

    def _rebuild_stages(self, block: type[BasicBlock | Bottleneck], layers: list[int], width: int) -> None:
        """Rebuild the stem norm and the four stages at ``width`` with torchvision's own ``_make_layer``."""
        if not isinstance(width, int) or isinstance(width, bool) or width < 1:
            raise ModelError(f"width must be an integer >= 1, got {width!r}")
        self.inplanes = width
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, 2 * width, layers[1], stride=2)
        self.layer3 = self._make_layer(block, 4 * width, layers[2], stride=2)
        self.layer4 = self._make_layer(block, 8 * width, layers[3], stride=2)
        self.fc = nn.Linear(8 * width * block.expansion, self.fc.out_features)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Stem and the four stages; ``B x C x 7 x 7`` at 224, ``x 6 x 6`` small at 48."""
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        return self.layer4(self.layer3(self.layer2(self.layer1(x))))

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Global average pool and the classifier."""
        return self.fc(torch.flatten(self.avgpool(features), 1))


class VGG(FerModel, torchvision.models.VGG):
    """torchvision VGG-16 (no batch norm) with a ``num_classes`` head and a 48x48 option.

    Source: Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale Image
    Recognition", ICLR 2015, configuration D, as implemented by torchvision.

    Departures:

    * ``in_chans=1`` gives the first conv one input channel (RGB weights summed on load);
    * ``small_input=True`` (48x48 faces): the fifth max-pool is removed, so a 48x48 input
      ends in a 3x3 map instead of 1x1, and the 7x7 adaptive pool before the classifier
      becomes a global average pool, so classifier.0 is 512->4096 instead of 25088->4096
      (and is skipped when loading ImageNet weights; classifier.3 still loads). Without it
      torchvision would copy a 1x1 map 49 times into the 25088-wide layer.
    """

    in_chans_layers = ("features.0",)
    head_layers = ("classifier",)

    def __init__(self, num_classes: int, in_chans: int, small_input: bool, drop_rate: float) -> None:
        torchvision.models.VGG.__init__(self, make_vgg_layers(vgg_cfgs["D"]), dropout=drop_rate)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.num_features = 512
        self.head_hidden_size = 4096
        if in_chans != 3:
            self.features[0] = _fresh_conv(in_chans, 64, 3, 1, bias=True)
        if small_input:
            self.input_size = (in_chans, 48, 48)
            self.features[-1] = nn.Identity()
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.classifier[0] = nn.Linear(512, 4096)
        self.classifier[6] = make_classifier(4096, num_classes)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The 13 convs and their pools; ``B x 512 x 7 x 7`` at 224, ``x 3 x 3`` small at 48."""
        return self.features(x)

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Adaptive pool, flatten, the three FC layers (dropout between)."""
        return self.classifier(torch.flatten(self.avgpool(features), 1))


_RESNETS = {
    "resnet18": (BasicBlock, [2, 2, 2, 2]),
    "resnet34": (BasicBlock, [3, 4, 6, 3]),
    "resnet50": (Bottleneck, [3, 4, 6, 3]),
}
_IMAGENET_SIZE = (1, 224, 224)


def _register_resnet(name: str, blocks: str) -> None:
    """Register torchvision's ``name`` (a key of `_RESNETS`) with a 3x3-stem option; the ResNets
    differ only in their declared block type and depths, so one builder serves them."""
    block, layers = _RESNETS[name]
    depth = name.removeprefix("resnet")

    def builder(num_classes: int = 7, in_chans: int = 1, small_input: bool = False, width: int = 64) -> ResNet:
        return ResNet(block, layers, num_classes, in_chans, bool(small_input), width)

    builder.__name__ = builder.__qualname__ = name
    builder.__doc__ = (
        f"ResNet-{depth} ({blocks}); 224x224 input, or 48x48 with ``small_input=True``; ``width`` scales the stages."
    )
    register_model(
        name,
        input_size=_IMAGENET_SIZE,
        description=f"torchvision ResNet-{depth} (small_input=True: 3x3 stem, no max-pool, 48x48)",
        source=_RESNET_SOURCE.format(name),
    )(builder)


_register_resnet("resnet18", "basic blocks")
_register_resnet("resnet34", "basic blocks")
_register_resnet("resnet50", "bottleneck blocks")


@register_model(
    input_size=_IMAGENET_SIZE,
    description="torchvision VGG-16 (small_input=True: no 5th pool, global pool, 48x48)",
    source=_VGG_SOURCE.format("vgg16"),
)
def vgg16(num_classes: int = 7, in_chans: int = 1, small_input: bool = False, drop_rate: float = 0.5) -> VGG:
    """VGG-16; 224x224 input, or 48x48 with ``small_input=True``."""
    return VGG(num_classes, in_chans, bool(small_input), check_rate("drop_rate", drop_rate))
