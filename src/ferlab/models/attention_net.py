"""FERAtt-style attention network: an encoder-decoder attention map gates early features."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ferlab.errors import ModelError
from ferlab.models.base import ConvBnAct, FerModel, check_widths, conv_bn
from ferlab.models.registry import create_backbone, register_model


def _double_conv(in_chs: int, out_chs: int) -> nn.Sequential:
    return nn.Sequential(ConvBnAct(in_chs, out_chs), ConvBnAct(out_chs, out_chs))


class AttentionUNet(nn.Module):
    """Two-level U-Net mapping an image to a one-channel attention logit map of its size."""

    def __init__(self, in_chans: int, widths: tuple[int, int, int]) -> None:
        super().__init__()
        w1, w2, w3 = widths
        self.enc1 = _double_conv(in_chans, w1)
        self.enc2 = _double_conv(w1, w2)
        self.center = _double_conv(w2, w3)
        self.dec2 = _double_conv(w3 + w2, w2)
        self.dec1 = _double_conv(w2 + w1, w1)
        self.out = nn.Conv2d(w1, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Attention logits ``B x 1 x H x W``."""
        e1 = self.enc1(x)
        e2 = self.enc2(F.max_pool2d(e1, 2))
        center = self.center(F.max_pool2d(e2, 2))
        d2 = self.dec2(torch.cat([e2, _upsample_to(center, e2)], dim=1))
        d1 = self.dec1(torch.cat([e1, _upsample_to(d2, e1)], dim=1))
        return self.out(d1)


def _upsample_to(x: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


class ResidualBlock(nn.Module):
    """conv-BN-ReLU, conv-BN, plus the input."""

    def __init__(self, chs: int) -> None:
        super().__init__()
        self.body = nn.Sequential(ConvBnAct(chs, chs), conv_bn(chs, chs))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block."""
        return x + self.body(x)


class FeatureExtractor(nn.Module):
    """Full-resolution feature module: 9x9 conv, residual blocks, 3x3 conv, long skip."""

    def __init__(self, in_chans: int, chs: int, blocks: int) -> None:
        super().__init__()
        self.stem = nn.Conv2d(in_chans, chs, 9, padding=4)
        self.blocks = nn.Sequential(*(ResidualBlock(chs) for _ in range(blocks)))
        self.mid = conv_bn(chs, chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``B x chs x H x W``."""
        stem = self.stem(x)
        return stem + self.mid(self.blocks(stem))


@register_model(
    "attention_net",
    description="FERAtt-style attention net: U-Net attention map gates features, then a CNN",
    source="Marrero Fernandez et al., FERAtt, CVPR Workshops 2019 (arXiv:1902.03284)",
)
class AttentionNet(FerModel):
    """Attention network in the style of FERAtt; returns its attention map for display.

    Source: P. D. Marrero Fernandez, F. A. Guerrero Pena, T. Ing Ren, A. Cunha, "FERAtt:
    Facial Expression Recognition with Attention Net", CVPR Workshops 2019
    (arXiv:1902.03284), and the authors' code (github.com/pedrodiamel/ferattention).
    As there: an encoder-decoder attention module gives a map A the size of the image, a
    feature module (9x9 conv, residual blocks, long skip) gives full-resolution features
    F, the fusion sigmoid(A) * F is decoded back to an attended image, and a classification
    backbone reads that image.

    Departures:

    * the classification backbone is any registered ferlab model (``backbone``, default
      ``resnet_like``) instead of a pre-activation ResNet-18 on a 4x average-pooled image:
      FER inputs are already 48x48;
    * FERAtt's representation branch (Gaussian embedding) and its reconstruction loss on
      synthetic composites are left out: the attended image is learnt from the
      classification loss alone;
    * the U-Net is two levels deep with widths (32, 64, 128) instead of (64, 128, 256)
      (the released code later moved to a ResNet-34 encoder), and its convs, the feature
      module's and the decoder's have batch norm, which FERAtt does not use.
    """

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        backbone: str = "resnet_like",
        backbone_kwargs: dict[str, Any] | None = None,
        attention_widths: tuple[int, int, int] = (32, 64, 128),
        num_filters: int = 32,
        feature_blocks: int = 4,
    ) -> None:
        super().__init__()
        w1, w2, w3 = check_widths("attention_widths", attention_widths, length=3)
        chs = check_widths("num_filters", (num_filters,))[0]
        if chs < 4:
            raise ModelError(f"num_filters must be at least 4, got {num_filters}")
        if isinstance(feature_blocks, bool) or not isinstance(feature_blocks, int) or feature_blocks < 0:
            raise ModelError(f"feature_blocks must be an integer >= 0, got {feature_blocks!r}")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.attention = AttentionUNet(in_chans, (w1, w2, w3))
        self.extractor = FeatureExtractor(in_chans, chs, feature_blocks)
        self.reconstruct = nn.Sequential(
            ConvBnAct(chs, chs // 2), ConvBnAct(chs // 2, chs // 4), nn.Conv2d(chs // 4, in_chans, 1)
        )
        self.backbone = create_backbone("attention_net", backbone, backbone_kwargs, num_classes, in_chans)
        self.num_features = self.backbone.num_features
        self.head_hidden_size = self.backbone.head_hidden_size
        self.in_chans_layers = ("attention.enc1.0.conv", "extractor.stem", "reconstruct.2") + tuple(
            f"backbone.{name}" for name in self.backbone.in_chans_layers
        )
        self.head_layers = tuple(f"backbone.{name}" for name in self.backbone.head_layers)

    def attend(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the attention map ``B x 1 x H x W`` in (0, 1) and the attended image."""
        attention = torch.sigmoid(self.attention(x))
        return attention, self.reconstruct(attention * self.extractor(x))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The backbone's last feature map, computed on the attended image."""
        return self.backbone.forward_features(self.attend(x)[1])

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """The backbone's head."""
        return self.backbone.forward_head(features)

    def forward_explain(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits, features, ``"attention"`` (``B x 1 x H x W``) and the ``"attended"`` image."""
        attention, attended = self.attend(x)
        features = self.backbone.forward_features(attended)
        return {
            "logits": self.forward_head(features),
            "features": features,
            "attention": attention,
            "attended": attended,
        }
