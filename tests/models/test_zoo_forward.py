"""Every registered model: forward and backward at its input size, 1 and 3 channels."""

from __future__ import annotations

import pytest
import torch

from ferlab.models import FerModel, count_parameters, create_model, get_model_info, list_models

EXPECTED = {
    "attention_net",
    "deep_emotion",
    "inception_resnet_v1",
    "lenet_like",
    "ran",
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet_like",
    "vgg16",
    "vgg_like",
}


def test_registry_holds_the_issue_models() -> None:
    assert set(list_models()) == EXPECTED


@pytest.mark.parametrize("in_chans", [1, 3])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_forward_backward_reaches_every_parameter(name: str, in_chans: int) -> None:
    model = create_model(name, num_classes=5, in_chans=in_chans)
    assert isinstance(model, FerModel)
    assert (model.num_classes, model.in_chans) == (5, in_chans)
    size = get_model_info(name).input_size[1]
    batch = 1 if size > 48 else 2  # 224x224 models: one image keeps the run short on CPU
    images = torch.randn(batch, in_chans, size, size)

    out = model.forward_explain(images)

    assert out["logits"].shape == (batch, 5)
    features = out["features"]
    assert features.dim() == 4 and features.shape[:2] == (batch, model.num_features)
    out["logits"].sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"no (finite) gradient for {missing[:5]}"


@pytest.mark.parametrize("name", sorted(n for n in EXPECTED if get_model_info(n).input_size[1] == 48))
def test_forward_is_head_of_features_and_matches_explain(name: str) -> None:
    model = create_model(name).eval()
    images = torch.randn(2, 1, 48, 48)
    with torch.no_grad():
        logits = model(images)
        torch.testing.assert_close(model.forward_head(model.forward_features(images)), logits)
        torch.testing.assert_close(model.forward_explain(images)["logits"], logits)


@pytest.mark.parametrize("name", ["lenet_like", "deep_emotion", "ran", "attention_net"])
def test_num_classes_zero_returns_pre_logits(name: str) -> None:
    model = create_model(name, num_classes=0).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 1, 48, 48))
    assert out.shape == (2, model.head_hidden_size)


def test_cnn_baselines_take_larger_inputs() -> None:
    model = create_model("resnet_like", widths=(8, 16, 16, 32), hidden=16).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 1, 64, 64)).shape == (2, 7)


def test_small_input_stems() -> None:
    resnet = create_model("resnet18", small_input=True)
    assert resnet.conv1.kernel_size == (3, 3) and resnet.conv1.stride == (1, 1)
    assert isinstance(resnet.maxpool, torch.nn.Identity)
    assert resnet.forward_features(torch.randn(2, 1, 48, 48)).shape == (2, 512, 6, 6)
    vgg = create_model("vgg16", small_input=True)
    out = vgg.forward_explain(torch.randn(1, 1, 48, 48))
    assert out["features"].shape == (1, 512, 3, 3)
    assert vgg.classifier[0].in_features == 512
    out["logits"].sum().backward()
    assert all(p.grad is not None for p in vgg.parameters())


def test_attention_net_map_and_inception_prelu() -> None:
    model = create_model("attention_net", backbone="lenet_like").eval()
    with torch.no_grad():
        attention = model.forward_explain(torch.randn(2, 1, 48, 48))["attention"]
    assert attention.shape == (2, 1, 48, 48)
    assert bool(((attention > 0) & (attention < 1)).all())
    prelu = create_model("inception_resnet_v1", prelu=True, repeats=(1, 1, 1))
    kinds = {type(m) for m in prelu.modules()}
    assert torch.nn.PReLU in kinds and torch.nn.ReLU not in kinds


def test_width_options_scale_the_study_models() -> None:
    """The options that scale architectures to a compute budget (issue #18) build working, smaller models."""
    x = torch.randn(2, 1, 48, 48)
    narrow = create_model("resnet18", small_input=True, width=10)
    assert narrow.layer4[-1].conv2.out_channels == 80 and narrow.fc.in_features == 80
    assert narrow(x).shape == (2, 7)
    wide = create_model("inception_resnet_v1", width=0.25, repeats=(1, 1, 1))
    assert wide.num_features == 1792 // 4 and wide(x).shape == (2, 7)
    paper, no_stn = create_model("deep_emotion"), create_model("deep_emotion", stn=False, width=12)
    assert not hasattr(no_stn, "localization") and no_stn.conv1.out_channels == 12
    assert no_stn(x).shape == (2, 7) and paper(x).shape == (2, 7)
    warped, theta = no_stn.transform(x)
    assert torch.equal(warped, x) and torch.equal(theta[0], torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
    assert count_parameters(no_stn) < count_parameters(create_model("deep_emotion", width=12))
