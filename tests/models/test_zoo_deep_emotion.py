"""Deep-Emotion: exact size, identity spatial transformer at start, fixed input size."""

from __future__ import annotations

import pytest
import torch

from ferlab.errors import ModelError
from ferlab.models import count_parameters, create_model


def test_parameter_count_matches_the_original() -> None:
    model = create_model("deep_emotion", num_classes=7, in_chans=1)
    assert count_parameters(model) == 66_877


def test_spatial_transformer_starts_at_identity() -> None:
    model = create_model("deep_emotion")
    images = torch.rand(4, 1, 48, 48)
    out = model.forward_explain(images)
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]).expand(4, 2, 3)
    torch.testing.assert_close(out["theta"], identity)
    torch.testing.assert_close(out["warped"], images)


def test_dropout_is_off_in_eval_mode() -> None:
    model = create_model("deep_emotion").eval()
    images = torch.rand(2, 1, 48, 48)
    with torch.no_grad():
        torch.testing.assert_close(model(images), model(images))


def test_other_input_size_is_a_model_error() -> None:
    with pytest.raises(ModelError, match="deep_emotion takes 48x48 images"):
        create_model("deep_emotion")(torch.rand(1, 1, 64, 64))
