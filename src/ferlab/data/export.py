"""Writing a dataset out as an image-folder layout (``<out>/<split>/<class>/<name>.png``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image

from ferlab.data.dataset import FaceDataset


def export_images(dataset: FaceDataset, out: Path, on_image: Callable[[], None] | None = None) -> int:
    """Write every labelled image of ``dataset`` as a lossless PNG under ``out/<split>/<class>/``.

    File names come from the image ids (a row number, an image name, or a source path
    flattened); a repeated id gets a ``_2``, ``_3``... suffix. The written tree reads back
    with ``load_dataset("folder", out, split)``. Returns the number of files written.
    """
    used: set[str] = set()
    written = 0
    for image, label, image_id in zip(dataset.images, dataset.labels, dataset.ids):
        if label < 0:
            continue
        folder = out / dataset.split / dataset.classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        stem = _stem(image_id)
        name, copy = stem, 1
        while f"{dataset.classes[label]}/{name}" in used:
            copy += 1
            name = f"{stem}_{copy}"
        used.add(f"{dataset.classes[label]}/{name}")
        Image.fromarray(image).save(folder / f"{name}.png")
        written += 1
        if on_image:
            on_image()
    return written


def _stem(image_id: object) -> str:
    if str(image_id).isdigit():
        return f"{int(image_id):05d}"
    return Path(str(image_id)).with_suffix("").as_posix().replace("/", "_")
