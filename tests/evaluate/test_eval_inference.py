"""Logits from uint8 images: batching, TTA views averaged as logits."""

from __future__ import annotations

import pytest
import torch

from ferlab.data.labels import FER2013_CLASSES
from ferlab.errors import FerlabError
from ferlab.evaluate import predict_logits

CPU = torch.device("cpu")


@pytest.fixture
def faces(make_faces):
    return make_faces(FER2013_CLASSES, [i % 7 for i in range(10)])


@pytest.mark.parametrize(("tta", "views"), [("none", 1), ("flip", 2), ("tencrop", 10)])
def test_each_tta_mode_runs_its_number_of_views(faces, brightness_model, tta: str, views: int) -> None:
    model = brightness_model(FER2013_CLASSES)
    seen = []
    model.register_forward_hook(lambda module, args, output: seen.append(args[0].shape))
    logits = predict_logits(model, faces.images, tta=tta, batch_size=4, device=CPU)
    assert logits.shape == (10, 7)
    assert seen == [(n, 1, 48, 48) for n in (4, 4, 2) for _ in range(views)]


def test_flip_tta_on_a_flip_invariant_model_equals_no_tta(faces, brightness_model) -> None:
    model = brightness_model(FER2013_CLASSES)
    plain = predict_logits(model, faces.images, device=CPU)
    assert torch.allclose(predict_logits(model, faces.images, tta="flip", device=CPU), plain, atol=1e-5)
    assert (plain.argmax(1).numpy() == faces.labels).all()


def test_tta_averages_logits_not_probabilities(faces) -> None:
    class Mirror(torch.nn.Module):
        """Logit 0 = mean of the left half; a flip swaps it with the right half."""

        in_chans, input_size, num_classes = 1, (1, 48, 48), 2

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.stack([x[..., :24].mean((1, 2, 3)), x[..., 24:].mean((1, 2, 3))], dim=1) * 10

    model = Mirror()
    plain = predict_logits(model, faces.images, device=CPU)
    flipped = predict_logits(model, faces.images[:, :, ::-1], device=CPU)
    assert torch.allclose(predict_logits(model, faces.images, tta="flip", device=CPU), (plain + flipped) / 2)


def test_batch_size_does_not_change_the_logits(faces, brightness_model) -> None:
    model = brightness_model(FER2013_CLASSES)
    assert torch.allclose(
        predict_logits(model, faces.images, batch_size=3, device=CPU),
        predict_logits(model, faces.images, batch_size=256, device=CPU),
    )


def test_rgb_images_are_fit_to_a_grayscale_model(make_faces, brightness_model) -> None:
    faces = make_faces(FER2013_CLASSES, range(7))
    rgb = faces.images[..., None].repeat(3, axis=-1)
    model = brightness_model(FER2013_CLASSES)
    assert torch.allclose(
        predict_logits(model, rgb, device=CPU), predict_logits(model, faces.images, device=CPU), atol=1e-2
    )


@pytest.mark.parametrize(
    ("options", "message"),
    [({"tta": "mirror"}, "unknown TTA mode 'mirror'"), ({"batch_size": 0}, "batch size must be at least 1")],
)
def test_bad_options_are_ferlab_errors(faces, brightness_model, options: dict, message: str) -> None:
    with pytest.raises(FerlabError, match=message):
        predict_logits(brightness_model(FER2013_CLASSES), faces.images, device=CPU, **options)
