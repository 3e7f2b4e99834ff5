"""Fixtures of the evaluation tests: synthetic faces whose class is their brightness,
a model that reads that brightness, a tiny trained model file and a fer2013.csv writer.

Exposed as fixtures, not importable names (pytest runs with ``--import-mode=importlib``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ferlab.data import FaceDataset
from ferlab.data.labels import FER2013_CLASSES, concept
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.evaluate.inference import model_inputs
from ferlab.models import create_model
from ferlab.preprocess import MEAN, STD

BRIGHTNESS = {
    "angry": 20,
    "disgust": 50,
    "fear": 80,
    "happy": 110,
    "sad": 140,
    "surprise": 170,
    "neutral": 200,
    "contempt": 230,
}
"""Pixel value of a synthetic face of each concept (30 levels apart)."""
NOISE = 6
SIDE = 48
TINY_LENET = {"widths": (4, 8, 8), "hidden": 16, "drop_rate": 0.0}


def face_images(classes: Sequence[str], labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """uint8 (N, 48, 48) faces: the brightness of each label's concept plus noise (-1: random)."""
    rng = np.random.default_rng(seed)
    levels = np.array([BRIGHTNESS[concept(name)] for name in classes])
    base = np.where(labels >= 0, levels[np.clip(labels, 0, None)], rng.integers(20, 230, len(labels)))
    noise = rng.integers(-NOISE, NOISE + 1, (len(labels), SIDE, SIDE))
    return np.clip(base[:, None, None] + noise, 0, 255).astype(np.uint8)


class BrightnessModel(nn.Module):
    """Flip-invariant "oracle": class scores fall with the distance of the mean pixel from
    each class's brightness; ``bias`` is added to the logits (to tempt it toward a class)."""

    in_chans, input_size = 1, (1, SIDE, SIDE)

    def __init__(self, classes: Sequence[str], bias: dict[str, float] | None = None) -> None:
        super().__init__()
        self.num_classes = len(classes)
        self.register_buffer("levels", torch.tensor([float(BRIGHTNESS[concept(c)]) for c in classes]))
        self.register_buffer("bias", torch.tensor([float((bias or {}).get(c, 0.0)) for c in classes]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K)`` from the mean (un-normalised) pixel of each image."""
        brightness = (x.mean(dim=(1, 2, 3)) * STD + MEAN) * 255
        return -(brightness[:, None] - self.levels).abs() / 10 + self.bias


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread: these tiny workloads slow down many-fold when a second
    thread competes for a busy core."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _seeded_single_thread() -> Iterator[None]:
    torch.manual_seed(0)
    with _one_thread():
        yield


@pytest.fixture
def make_faces() -> Callable[..., FaceDataset]:
    """``make_faces(classes, labels, name=..., split=..., ids=..., extra=...)`` → a synthetic `FaceDataset`."""

    def make(
        classes: Sequence[str],
        labels: Sequence[int],
        name: str = "fer2013",
        split: str = "test",
        ids: np.ndarray | None = None,
        extra: dict | None = None,
        seed: int = 0,
    ) -> FaceDataset:
        labels = np.asarray(labels, dtype=np.int64)
        return FaceDataset(
            images=face_images(classes, labels, seed),
            labels=labels,
            classes=tuple(classes),
            name=name,
            split=split,
            ids=np.arange(len(labels)) if ids is None else np.asarray(ids),
            extra=extra or {},
        )

    return make


@pytest.fixture
def brightness_model() -> Callable[..., BrightnessModel]:
    """``brightness_model(classes, bias=None)`` → a `BrightnessModel`."""
    return BrightnessModel


@pytest.fixture(scope="session")
def model_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``<run folder>/best.pt``: a tiny LeNet-like FER2013 model trained to read brightness."""
    torch.manual_seed(0)
    with _one_thread():
        model = _trained_brightness_lenet()
    path = tmp_path_factory.mktemp("run") / "best.pt"
    save_atomically(model_record(model, "lenet_like", TINY_LENET, FER2013_CLASSES), path)
    return path


def _trained_brightness_lenet() -> nn.Module:
    """A tiny LeNet-like model trained for 40 full-batch steps on 56 brightness faces (eval mode)."""
    labels = np.repeat(np.arange(len(FER2013_CLASSES)), 8)
    model = create_model("lenet_like", num_classes=len(FER2013_CLASSES), **TINY_LENET)
    x = model_inputs(face_images(FER2013_CLASSES, labels, seed=1), model)
    y = torch.from_numpy(labels)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(40):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    return model.eval()


@pytest.fixture(scope="session")
def brightness_csv() -> Callable[[Path, dict[str, int]], Path]:
    """``write(path, {"PublicTest": 14, "PrivateTest": 21})`` → a fer2013.csv of brightness faces,
    emotions cycling 0..6 within each usage."""

    def write(path: Path, rows_per_usage: dict[str, int]) -> Path:
        lines = ["emotion,pixels,Usage"]
        for seed, (usage, count) in enumerate(rows_per_usage.items()):
            labels = np.arange(count) % len(FER2013_CLASSES)
            for label, image in zip(labels, face_images(FER2013_CLASSES, labels, seed)):
                lines.append(f"{label},{' '.join(map(str, image.ravel()))},{usage}")
        path.write_text("\n".join(lines) + "\n")
        return path

    return write
