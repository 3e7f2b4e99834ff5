"""`input_size`: training at another input side, with a teacher of the default side, and the models that refuse it."""

from pathlib import Path

import numpy as np
import pytest

from ferlab.app.classifier import load_classifier
from ferlab.data.dataset import FaceDataset
from ferlab.data.images import resize_dataset, resize_pixels
from ferlab.engine import load_config, load_model, train
from ferlab.errors import FerlabError
from ferlab.models.onnx_export import export_onnx

FAST = dict(model="lenet_like", epochs=3, batch_size=32, lr=0.02, device="cpu", threads=1)


def test_resized_dataset_holds_the_readers_resize_of_each_image() -> None:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(3, 48, 48), dtype=np.uint8)
    dataset = FaceDataset(
        images=images, labels=np.array([0, 1, 2]), classes=("a", "b", "c"), name="toy", split="train", ids=np.arange(3)
    )
    bigger = resize_dataset(dataset, (64, 56))
    assert bigger.images.shape == (3, 64, 56) and bigger.images.dtype == np.uint8
    assert np.array_equal(bigger.images[1], resize_pixels(images[1], (64, 56)))
    assert np.array_equal(bigger.labels, dataset.labels)
    assert resize_dataset(dataset, (48, 48)) is dataset


def test_a_run_at_input_size_32_stores_and_uses_32x32_input(tiny_fer2013: Path, tmp_path: Path) -> None:
    result = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), input_size=32, **FAST))
    model, record = load_model(result.run_dir / "best.pt")
    assert tuple(model.input_size) == (1, 32, 32) and record["preprocessing"]["input_size"] == [1, 32, 32]
    assert result.best_val_acc > 0.6, "the learnable rows stay learnable at 32x32"
    onnx = export_onnx(result.run_dir, tmp_path / "model.onnx")
    classifier = load_classifier(onnx, backend="onnx")
    assert classifier.input_size == (1, 32, 32), "the application crops faces at the model's size"
    crops = np.random.default_rng(0).integers(0, 256, size=(4, 32, 32), dtype=np.uint8)
    expected = load_classifier(result.run_dir / "best.pt", backend="torch").predict_proba(crops)
    assert np.allclose(classifier.predict_proba(crops), expected, atol=1e-4)


def test_student_at_another_size_learns_from_a_48x48_teacher(tiny_fer2013: Path, tmp_path: Path) -> None:
    """kd_weight 1: the 32x32 student learns only from what the 48x48 teacher says about the resized batch."""
    teacher = train(load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "teacher"), **FAST)).run_dir
    config = load_config(
        data_root=str(tiny_fer2013),
        out=str(tmp_path / "student"),
        teacher=str(teacher),
        kd_weight=1.0,
        input_size=32,
        **FAST,
    )
    assert train(config).best_val_acc > 0.6


def test_a_model_with_a_fixed_head_refuses_another_input_size(tiny_fer2013: Path, tmp_path: Path) -> None:
    config = load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), **{**FAST, "model": "deep_emotion"})
    with pytest.raises(FerlabError, match=r"deep_emotion cannot take 64x64 input .*leave input_size unset"):
        train(load_config(**{**config.to_dict(), "input_size": 64}))


@pytest.mark.parametrize("side", [8, 1000])
def test_input_size_out_of_range_is_refused(side: int) -> None:
    with pytest.raises(FerlabError, match=f"input_size = {side}: must be >= 16 and <= 512"):
        load_config(input_size=side)


def test_resuming_at_another_input_size_is_refused(tiny_fer2013: Path, tmp_path: Path) -> None:
    config = load_config(data_root=str(tiny_fer2013), out=str(tmp_path / "run"), **{**FAST, "epochs": 1})
    train(config)
    with pytest.raises(FerlabError, match="trained with input_size None, not 32"):
        train(load_config(**{**config.to_dict(), "input_size": 32}), resume=True)
