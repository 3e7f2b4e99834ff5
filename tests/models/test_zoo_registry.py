"""The registry: names, default configs, and one-line errors for user mistakes."""

from __future__ import annotations

import pytest

from ferlab.errors import FerlabError, ModelError
from ferlab.models import create_model, get_model_info, list_models


def test_model_info_without_building() -> None:
    for name in list_models():
        info = get_model_info(name)
        assert info.name == name
        assert len(info.input_size) == 3 and info.input_size[0] == 1
        assert info.description and "\n" not in info.description
        assert info.source
    assert get_model_info("resnet18").input_size == (1, 224, 224)
    assert get_model_info("deep_emotion").input_size == (1, 48, 48)
    assert "small_input" in get_model_info("vgg16").options


def test_list_models_pattern() -> None:
    assert list_models("resnet*") == ["resnet18", "resnet34", "resnet50", "resnet_like"]


def test_unknown_model_name_suggests_close_matches() -> None:
    with pytest.raises(ModelError, match=r"unknown model 'resnet19'; did you mean resnet18") as caught:
        create_model("resnet19")
    assert isinstance(caught.value, FerlabError)
    assert "available: attention_net" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_unknown_name_without_close_match_lists_models() -> None:
    with pytest.raises(ModelError, match="available: .*vgg_like"):
        get_model_info("transformer")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"dropout": 0.3}, r"lenet_like does not take option 'dropout'; did you mean 'drop_rate'"),
        ({"drop_rate": 1.5}, r"drop_rate must be in \[0, 1\)"),
        ({"widths": (32, -1)}, "widths must be one or more positive integers"),
        ({"num_classes": -1}, "num_classes must be an integer >= 0"),
        ({"in_chans": 2}, "in_chans must be 1 .* or 3"),
    ],
)
def test_bad_options_raise_model_error(kwargs: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        create_model("lenet_like", **kwargs)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("ran", {"regions": [(0.5, 0.0, 0.4, 1.0)]}, "regions must be one or more"),
        ("ran", {"backbone": "nope"}, "unknown model 'nope'"),
        ("ran", {"backbone_kwargs": {"in_chans": 3}}, "backbone_kwargs must be a dict"),
        ("attention_net", {"backbone_kwargs": {"bogus": 1}}, "resnet_like does not take option 'bogus'"),
        ("inception_resnet_v1", {"repeats": (1, 1)}, "repeats must be three integers"),
        ("attention_net", {"attention_widths": (8, 16)}, "attention_widths must be 3 positive integers"),
    ],
)
def test_bad_composite_options(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        create_model(name, **kwargs)


def test_models_know_their_input_size() -> None:
    from ferlab.models import create_model

    assert create_model("resnet18", in_chans=3).input_size == (3, 224, 224)
    assert create_model("resnet18", small_input=True).input_size == (1, 48, 48)
    assert create_model("deep_emotion", in_chans=3).input_size == (3, 48, 48)
