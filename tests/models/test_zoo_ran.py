"""Region Attention Network: attention weights, crops, and the region-biased loss."""

from __future__ import annotations

import pytest
import torch

from ferlab.errors import ModelError
from ferlab.models import RegionBiasedLoss, create_model
from ferlab.models.ran import PAPER_REGIONS


def test_attention_weights_lie_in_open_unit_interval(light_backbone: dict) -> None:
    model = create_model("ran", **light_backbone)
    out = model.forward_explain(torch.randn(3, 1, 48, 48))
    for key in ("region_weights", "relation_weights"):
        weights = out[key]
        assert weights.shape == (3, len(PAPER_REGIONS) + 1)
        assert bool(((weights > 0) & (weights < 1)).all())
    assert out["features"].shape == (3, model.num_features, 1, 1)


def test_regions_are_configurable_and_cropped_from_the_input(light_backbone: dict) -> None:
    model = create_model("ran", regions=[(0.0, 0.0, 0.5, 0.5)], **light_backbone)
    image = torch.zeros(1, 1, 48, 48)
    image[..., :24, :24] = 1.0  # the top-left quarter is white
    views = model.crops(image)
    assert views.shape == (1, 2, 1, 48, 48)
    torch.testing.assert_close(views[0, 0], image[0])
    torch.testing.assert_close(views[0, 1], torch.ones(1, 48, 48))
    assert model.forward_explain(image)["region_weights"].shape == (1, 2)


def test_region_biased_loss_zero_when_a_crop_beats_the_face_by_the_margin() -> None:
    loss = RegionBiasedLoss(delta=0.1)
    mu = torch.tensor([[0.3, 0.2, 0.45, 0.1], [0.5, 0.61, 0.2, 0.2]])
    assert loss(mu).item() == 0.0


def test_region_biased_loss_positive_otherwise() -> None:
    loss = RegionBiasedLoss()
    mu = torch.tensor([[0.5, 0.55, 0.2], [0.6, 0.3, 0.4]], requires_grad=True)
    value = loss(mu)
    # max(0, 0.1 - 0.05) = 0.05 and max(0, 0.1 + 0.2) = 0.3, averaged
    assert value.item() == pytest.approx((0.05 + 0.3) / 2)
    value.backward()
    assert mu.grad is not None and mu.grad[:, 0].gt(0).all()


def test_region_biased_loss_needs_crops() -> None:
    with pytest.raises(ModelError, match="k >= 1 crops"):
        RegionBiasedLoss()(torch.rand(4, 1))


def test_training_outputs_carry_the_weighted_region_biased_loss() -> None:
    torch.manual_seed(0)
    images = torch.rand(3, 1, 48, 48)
    weighted = create_model("ran", backbone="lenet_like", rb_weight=2.0, rb_delta=0.3).eval()  # no dropout
    outputs = weighted.training_outputs(images)
    expected = 2.0 * RegionBiasedLoss(0.3)(outputs["region_weights"])
    assert outputs["aux_loss"].item() == pytest.approx(expected.item()) and expected.item() > 0
    torch.testing.assert_close(outputs["logits"], weighted(images))
    assert "aux_loss" not in create_model("ran", backbone="lenet_like", rb_weight=0).training_outputs(images)
    assert "aux_loss" not in create_model("lenet_like").training_outputs(images), "other models add nothing"
    with pytest.raises(ModelError, match="rb_weight"):
        create_model("ran", rb_weight=-1)
