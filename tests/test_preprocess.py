"""`ferlab.preprocess`: the torch-free preprocessing equals the training transforms, and its TTA views
are torchvision's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchvision.transforms.v2 import functional as TF

from ferlab.data.transforms import fit_to_model, normalize, to_tensor_batch
from ferlab.errors import FerlabError
from ferlab.preprocess import STD, Preprocessing, model_inputs, tta_views

ONE_LEVEL = 0.5 / 255 / STD + 1e-6
"""Half a grey level after normalisation: the numpy path rounds resized or grey-converted crops to uint8."""


def _training_inputs(images: np.ndarray, input_size: tuple[int, int, int]) -> np.ndarray:
    return normalize(fit_to_model(to_tensor_batch(torch.from_numpy(images)), input_size[0], input_size[1:])).numpy()


@pytest.mark.parametrize(
    ("shape", "input_size", "tolerance"),
    [
        ((5, 48, 48), (1, 48, 48), 1e-6),  # the application's crops: already the model's size and channels
        ((5, 48, 48, 3), (3, 48, 48), 1e-6),
        ((5, 48, 48), (3, 48, 48), 1e-6),  # gray repeated to RGB
        ((5, 48, 48, 3), (1, 48, 48), ONE_LEVEL),  # RGB weighted to gray, rounded
        ((5, 40, 40), (1, 48, 48), 3 * ONE_LEVEL),  # enlarged (bilinear in both), rounded
    ],
)
def test_model_inputs_equal_the_training_transforms(shape, input_size, tolerance) -> None:
    images = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    found = model_inputs(images, Preprocessing(input_size))
    assert found.dtype == np.float32 and found.shape == (5, *input_size)
    assert np.abs(found - _training_inputs(images, input_size)).max() <= tolerance


@pytest.mark.parametrize("mode", ["none", "flip", "tencrop"])
def test_tta_views_are_torchvisions(mode: str) -> None:
    x = np.random.default_rng(1).normal(size=(2, 1, 48, 48)).astype(np.float32)
    tensor = torch.from_numpy(x)
    expected = {
        "none": [tensor],
        "flip": [tensor, TF.horizontal_flip(tensor)],
        "tencrop": list(TF.ten_crop(torch.nn.functional.pad(tensor, (4, 4, 4, 4), mode="reflect"), [48, 48])),
    }[mode]
    found = tta_views(x, mode)
    assert len(found) == len(expected)
    # the same set of views (the order is free: their logits are averaged)
    for view in expected:
        assert any(np.array_equal(view.numpy(), mine) for mine in found)
    with pytest.raises(FerlabError, match="unknown TTA mode 'mirror'"):
        tta_views(x, "mirror")


def test_preprocessing_round_trips_through_onnx_metadata_and_model_files() -> None:
    stored = Preprocessing((3, 64, 56), mean=0.4, std=0.3, crop_margin=0.1)
    assert Preprocessing.from_metadata(stored.to_metadata()) == stored
    assert Preprocessing.from_dict(stored.to_dict(), (1, 48, 48)) == stored
    assert Preprocessing.from_dict(None, (1, 48, 48)) == Preprocessing((1, 48, 48)), "older files: the defaults"
