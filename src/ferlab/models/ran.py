"""Region Attention Network (Wang et al. 2020) and its region-biased loss."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ferlab.errors import ModelError
from ferlab.models.base import FerModel, make_classifier
from ferlab.models.registry import create_backbone, register_model

RelativeBoxXYXY = tuple[float, float, float, float]
"""A box as ``(left, top, right, bottom)`` fractions of the image (0..1); pixel boxes are
`ferlab.faces.BoxXYXY` (corners) and `ferlab.data.images.BoxXYWH` (corner and size)."""

PAPER_REGIONS: tuple[RelativeBoxXYXY, ...] = (
    (0.0, 0.0, 0.75, 0.75),  # top-left, scale 0.75
    (0.25, 0.0, 1.0, 0.75),  # top-right, scale 0.75
    (0.125, 0.25, 0.875, 1.0),  # centre-down, scale 0.75
    (0.05, 0.05, 0.95, 0.95),  # centre, scale 0.9
    (0.075, 0.075, 0.925, 0.925),  # centre, scale 0.85
)
"""The five fixed crops, ``(left, top, right, bottom)`` as fractions of the face image."""


def _check_regions(regions: Sequence[Sequence[float]]) -> tuple[RelativeBoxXYXY, ...]:
    boxes = tuple(tuple(box) for box in regions) if isinstance(regions, (tuple, list)) else ()
    valid = len(boxes) > 0 and all(
        len(box) == 4
        and all(isinstance(v, (int, float)) for v in box)
        and 0 <= box[0] < box[2] <= 1
        and 0 <= box[1] < box[3] <= 1
        for box in boxes
    )
    if not valid:
        raise ModelError(
            "regions must be one or more (left, top, right, bottom) boxes with "
            f"0 <= left < right <= 1 and 0 <= top < bottom <= 1, got {regions!r}"
        )
    return tuple((float(a), float(b), float(c), float(d)) for a, b, c, d in boxes)


@register_model(
    "ran",
    description="Region Attention Network: face + 5 crops, self- and relation-attention",
    source="Wang et al., Region Attention Networks, IEEE TIP 2020 (arXiv:1905.04075)",
)
class RegionAttentionNet(FerModel):
    """Region Attention Network: the face and k crops of it, weighed by learnt attention.

    Source: K. Wang, X. Peng, J. Yang, D. Meng, Y. Qiao, "Region Attention Networks for
    Pose and Occlusion Robust Facial Expression Recognition", IEEE TIP 29, 2020
    (arXiv:1905.04075); code github.com/kaiwang960112/Challenge-condition-FER-dataset.
    The face I_0 and k region crops I_1..I_k share one backbone giving vectors F_i;
    self-attention mu_i = sigmoid(F_i . q0), F_m = sum(mu_i F_i) / sum(mu_i); relation
    attention nu_i = sigmoid([F_i : F_m] . q1); P = sum(mu_i nu_i [F_i : F_m]) /
    sum(mu_i nu_i); a linear classifier reads P. Training adds ``rb_weight`` x the
    `RegionBiasedLoss` of mu (margin ``rb_delta``) to the cross-entropy, through
    `training_outputs`; ``rb_weight=0`` is the ablation without it.

    Here F_i is the backbone's pre-logits vector: the backbone is any registered model
    (``backbone``, default ``resnet_like``) built with ``num_classes=0``, so its pooled
    features, and its hidden FC layer if it has one, are used.

    Departures:

    * the crops are made inside the model from the one input image (fixed boxes, as
      fractions of the image, resized back to the input size bilinearly), so the model
      takes a single ``B x C x H x W`` tensor like every ferlab model; the paper crops
      beforehand (fixed positions or landmarks). ``regions`` defaults to the paper's
      five fixed crops (its Sec. III-C; the boxes were not re-checked against the text
      here): top-left, top-right and centre-down at scale 0.75, the centre at 0.9 and
      0.85;
    * q0 and q1 are bias-free, as in the paper's equations (the authors' code gives them a
      bias and follows the sigmoid with a softmax over the regions);
    * the backbone is a ferlab model (48x48 by default) rather than a ResNet-18
      pre-trained on a face-recognition dataset at 224x224;
      ``backbone_kwargs={"pretrained": PATH}`` loads local backbone weights.

    `forward_features` returns P as a ``B x 2D x 1 x 1`` map (aggregated, not spatial:
    Grad-CAM should hook the backbone instead); ``num_features = head_hidden_size = 2D``.
    """

    head_layers = ("fc",)

    def __init__(
        self,
        num_classes: int = 7,
        in_chans: int = 1,
        backbone: str = "resnet_like",
        backbone_kwargs: dict[str, Any] | None = None,
        regions: Sequence[Sequence[float]] = PAPER_REGIONS,
        rb_weight: float = 1.0,
        rb_delta: float = 0.1,
    ) -> None:
        super().__init__()
        if rb_weight < 0:
            raise ModelError(f"rb_weight must be 0 or more, got {rb_weight}")
        self.regions = _check_regions(regions)
        self.rb_weight = rb_weight
        self.region_biased = RegionBiasedLoss(rb_delta)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.backbone = create_backbone("ran", backbone, backbone_kwargs, 0, in_chans)
        dim = self.backbone.head_hidden_size
        self.num_features = self.head_hidden_size = 2 * dim
        self.self_attention = nn.Linear(dim, 1, bias=False)
        self.relation_attention = nn.Linear(2 * dim, 1, bias=False)
        self.fc = make_classifier(2 * dim, num_classes)
        self.in_chans_layers = tuple(f"backbone.{name}" for name in self.backbone.in_chans_layers)

    def crops(self, x: torch.Tensor) -> torch.Tensor:
        """The face and its region crops at the input size, ``B x (k+1) x C x H x W``."""
        height, width = x.shape[-2:]
        views = [x]
        for left, top, right, bottom in self.regions:
            x0, y0 = min(round(left * width), width - 1), min(round(top * height), height - 1)
            x1, y1 = max(round(right * width), x0 + 1), max(round(bottom * height), y0 + 1)
            views.append(
                F.interpolate(x[..., y0:y1, x0:x1], size=(height, width), mode="bilinear", align_corners=False)
            )
        return torch.stack(views, dim=1)

    def aggregate(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return P (``B x 2D``), mu (``B x (k+1)``) and nu (``B x (k+1)``); index 0 is the face."""
        views = self.crops(x)
        batch, count = views.shape[:2]
        feats = self.backbone(views.flatten(0, 1)).view(batch, count, -1)
        mu = torch.sigmoid(self.self_attention(feats)).squeeze(-1)
        global_feat = (mu.unsqueeze(-1) * feats).sum(1) / mu.sum(1, keepdim=True)
        joined = torch.cat([feats, global_feat.unsqueeze(1).expand_as(feats)], dim=-1)
        nu = torch.sigmoid(self.relation_attention(joined)).squeeze(-1)
        weight = mu * nu
        pooled = (weight.unsqueeze(-1) * joined).sum(1) / weight.sum(1, keepdim=True)
        return pooled, mu, nu

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The aggregated representation P as ``B x 2D x 1 x 1``."""
        return self.aggregate(x)[0][..., None, None]

    def forward_head(self, features: torch.Tensor) -> torch.Tensor:
        """Flatten P and classify."""
        return self.fc(features.flatten(1))

    def forward_explain(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits, features (P), ``"region_weights"`` mu and ``"relation_weights"`` nu."""
        pooled, mu, nu = self.aggregate(x)
        features = pooled[..., None, None]
        return {
            "logits": self.forward_head(features),
            "features": features,
            "region_weights": mu,
            "relation_weights": nu,
        }

    def training_outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """`forward_explain`'s outputs, with ``"aux_loss"`` = ``rb_weight`` x the region-biased
        loss of the region weights (left out when ``rb_weight`` is 0: the ablation)."""
        outputs = self.forward_explain(x)
        if self.rb_weight > 0:
            outputs["aux_loss"] = self.rb_weight * self.region_biased(outputs["region_weights"])
        return outputs


class RegionBiasedLoss(nn.Module):
    """Region-biased loss of RAN: ``mean(max(0, delta - (max_{i>0} mu_i - mu_0)))``.

    Pushes the best region crop's attention weight above the whole face's by a margin
    ``delta`` (0.1 by default, as in the authors' code). Input: the ``"region_weights"``
    of `RegionAttentionNet.forward_explain`, ``B x (k+1)`` with the face first.
    """

    def __init__(self, delta: float = 0.1) -> None:
        super().__init__()
        if not 0.0 <= delta <= 1.0:
            raise ModelError(f"delta must be in [0, 1] (attention weights are in (0, 1)), got {delta}")
        self.delta = delta

    def forward(self, region_weights: torch.Tensor) -> torch.Tensor:
        """The loss, averaged over the batch."""
        if region_weights.dim() != 2 or region_weights.shape[1] < 2:
            raise ModelError(
                "RegionBiasedLoss expects region weights B x (k+1) with k >= 1 crops, "
                f"got shape {tuple(region_weights.shape)}"
            )
        margin = region_weights[:, 1:].max(dim=1).values - region_weights[:, 0]
        return F.relu(self.delta - margin).mean()
