"""pretrained=PATH: torchvision-format state dicts, adapted first conv, skipped head, errors."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
import torchvision

from ferlab.engine.checkpoint import model_record
from ferlab.errors import ModelError
from ferlab.models import create_model, load_pretrained


@pytest.fixture(scope="module")
def torchvision_resnet18(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A plain torchvision ResNet-18 (RGB, 1000 classes) saved as a state dict."""
    torch.manual_seed(1)
    state = torchvision.models.resnet18(weights=None).state_dict()
    path = tmp_path_factory.mktemp("weights") / "resnet18.pth"
    torch.save(state, path)
    return path, state


def test_grayscale_model_sums_rgb_filters_and_skips_the_head(
    torchvision_resnet18: tuple[Path, dict], caplog: pytest.LogCaptureFixture
) -> None:
    path, state = torchvision_resnet18
    with caplog.at_level(logging.INFO, logger="ferlab.models"):
        model = create_model("resnet18", num_classes=7, in_chans=1, pretrained=path)
    report = model.pretrained_report
    assert report.adapted == ["conv1.weight"]
    assert sorted(report.skipped) == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(model.conv1.weight, state["conv1.weight"].sum(dim=1, keepdim=True))
    torch.testing.assert_close(model.layer3[1].conv2.weight, state["layer3.1.conv2.weight"])
    torch.testing.assert_close(model.bn1.running_var, state["bn1.running_var"])
    assert model.fc.out_features == 7
    assert "skipped" in caplog.text and "fc.weight" in caplog.text


def test_rgb_model_loads_everything_but_the_head(torchvision_resnet18: tuple[Path, dict]) -> None:
    path, state = torchvision_resnet18
    model = create_model("resnet18", num_classes=7, in_chans=3, pretrained=str(path))
    assert model.pretrained_report.adapted == []
    torch.testing.assert_close(model.conv1.weight, state["conv1.weight"])


def test_small_input_stem_is_skipped(torchvision_resnet18: tuple[Path, dict]) -> None:
    path, state = torchvision_resnet18
    model = create_model("resnet18", small_input=True, pretrained=path)
    assert "conv1.weight" in model.pretrained_report.skipped
    assert model.conv1.weight.shape == (64, 1, 3, 3)
    torch.testing.assert_close(model.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])


def test_backbone_weights_through_backbone_kwargs(torchvision_resnet18: tuple[Path, dict]) -> None:
    path, state = torchvision_resnet18
    model = create_model("ran", backbone="resnet18", backbone_kwargs={"small_input": True, "pretrained": path})
    torch.testing.assert_close(model.backbone.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])


def test_ferlab_checkpoint_round_trip_with_new_head(tmp_path: Path) -> None:
    source = create_model("lenet_like", num_classes=7, in_chans=3)
    path = tmp_path / "lenet.pt"
    torch.save(source.state_dict(), path)
    target = create_model("lenet_like", num_classes=3, in_chans=1)
    report = load_pretrained(target, path)
    assert report.adapted == ["stages.0.0.conv.0.weight"]
    assert sorted(report.skipped) == ["classifier.bias", "classifier.weight"]
    torch.testing.assert_close(target.hidden[1].weight, source.hidden[1].weight)


def test_ferlab_model_file_seven_to_eight_classes(tmp_path: Path) -> None:
    """A ferlab model file (a run's best.pt, a shipped model) starts a new run: FER2013 → FERPlus."""
    source = create_model("vgg_like", num_classes=7, widths=(8, 16, 16, 16), hidden=32)
    path = tmp_path / "best.pt"
    torch.save(model_record(source, "vgg_like", {"widths": (8, 16, 16, 16), "hidden": 32}, tuple("abcdefg")), path)
    target = create_model("vgg_like", num_classes=8, widths=(8, 16, 16, 16), hidden=32, pretrained=path)
    assert sorted(target.pretrained_report.skipped) == ["classifier.bias", "classifier.weight"]
    torch.testing.assert_close(target.stages[3][1].conv[0].weight, source.stages[3][1].conv[0].weight)


@pytest.mark.parametrize("pretrained", [True, "imagenet", "IMAGENET1K_V1"])
def test_weights_by_name_cannot_be_downloaded(pretrained: object) -> None:
    with pytest.raises(ModelError, match="no weights can be downloaded here; pass pretrained=PATH to a local"):
        create_model("resnet18", pretrained=pretrained)


def test_missing_weights_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="weights file not found: .*nothing.pth"):
        create_model("resnet18", pretrained=tmp_path / "nothing.pth")


def test_unreadable_weights_file(tmp_path: Path) -> None:
    path = tmp_path / "garbage.pth"
    path.write_bytes(b"not a checkpoint at all")
    with pytest.raises(ModelError, match="cannot read weights from"):
        create_model("lenet_like", pretrained=path)


def test_non_state_dict_file(tmp_path: Path) -> None:
    path = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], path)
    with pytest.raises(ModelError, match="holds a list, not a state dict"):
        create_model("lenet_like", pretrained=path)


def test_weights_of_another_architecture(torchvision_resnet18: tuple[Path, dict]) -> None:
    path, _ = torchvision_resnet18
    with pytest.raises(ModelError, match="do not fit this ResNet: .* not in the file .*layer1.2"):
        create_model("resnet34", pretrained=path)
    with pytest.raises(ModelError, match="do not fit this FerCNN"):
        create_model("lenet_like", pretrained=path)


def test_same_keys_other_widths_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "narrow.pt"
    torch.save(create_model("lenet_like", widths=(8, 16, 32)).state_dict(), path)
    with pytest.raises(ModelError, match=r"stages.0.0.conv.1.weight has shape \(8,\) in the file but \(32,\)"):
        create_model("lenet_like", pretrained=path)
