"""The crop rule's gate (`ferlab.app.crop_gate.CropGate`): how many real face crops pass it (the crop rule must
keep classifying them: 95% or more) and how many non-face images of crop size pass it (blank and noise must
not), for a grid of its two thresholds, and for comparison OpenCV's Haar cascade run again on the crop padded
with its own border pixels (0.3 of the longer side) at ``min_neighbors`` 0 and 1.

    python bench/crop_gate.py ../shared/data/sfew/Train ../shared/data/fer2013

Face crops: the SFEW validation part (``--holdout 0.3 --split val``, 259 aligned 143x181 film crops) and the
first 500 FER2013 PrivateTest faces (48x48). Non-face images, generated here with a fixed seed: blank images in
five colours and three sizes, uniform and Gaussian noise, gradients, and 143x181 crops and whole-image
resizes of scikit-image's bundled textures and objects (brick, grass, gravel, checkerboard, text, coins, moon,
horse, rocket, coffee, cat, hubble deep field, immunohistochemistry, page, clock, logo, colour wheel, cell,
blobs, retina, phantom). scikit-image's photos with people (astronaut, camera) are left out.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage import data

from ferlab.app.analyze import load_rgb
from ferlab.app.crop_gate import CropGate
from ferlab.data import load_dataset
from ferlab.faces.base import as_rgb
from ferlab.faces.detectors import HaarDetector

NON_FACE_SOURCES = (
    "brick grass gravel checkerboard text coins moon horse rocket coffee chelsea hubble_deep_field "
    "immunohistochemistry page clock logo colorwheel cell binary_blobs retina shepp_logan_phantom"
).split()
GRID = [(2.0, 0.3), (4.0, 0.5), (8.0, 0.6), (8.0, 0.7)]


def face_crops(sfew: Path, fer2013: Path) -> dict[str, list[np.ndarray]]:
    """The SFEW validation part at its native size, and 500 FER2013 PrivateTest faces."""
    val = load_dataset("folder", sfew, "val", holdout=0.3)
    fer = load_dataset("fer2013", fer2013, "test")
    return {
        "SFEW val part": [load_rgb(sfew / name) for name in val.ids],
        "FER2013 PrivateTest[:500]": list(fer.images[:500]),
    }


def non_faces(seed: int = 0) -> dict[str, list[np.ndarray]]:
    """Blank, noise, gradients, textures and objects, all within the crop rule's sizes."""
    rng = np.random.default_rng(seed)
    sizes = [(1, 1), (48, 48), (181, 143)]
    colours = [(0, 0, 0), (255, 255, 255), (128, 128, 128), (200, 30, 30), (20, 90, 200)]
    blank = [np.full((*size, 3), colour, np.uint8) for size in sizes for colour in colours]
    noise = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for size in sizes[1:] for _ in range(10)]
    noise += [
        np.clip(rng.normal(128, sigma, (*size, 3)), 0, 255).astype(np.uint8)
        for size in sizes[1:]
        for sigma in (5, 20, 60)
    ]
    ramp = np.linspace(0, 255, 143, dtype=np.float64)
    gradients = [
        np.repeat(np.tile(ramp, (181, 1))[..., None], 3, axis=2).astype(np.uint8),
        np.repeat(np.tile(ramp, (181, 1)).T[:143, :][..., None], 3, axis=2).astype(np.uint8).transpose(1, 0, 2),
    ]
    scenes = []
    for name in NON_FACE_SOURCES:
        image = np.asarray(Image.fromarray(getattr(data, name)()).convert("RGB"))
        height, width = image.shape[:2]
        for _ in range(5):
            y, x = rng.integers(0, max(1, height - 181)), rng.integers(0, max(1, width - 143))
            crop = image[y : y + 181, x : x + 143]
            scenes.append(np.asarray(Image.fromarray(crop).resize((143, 181))))
        scenes.append(np.asarray(Image.fromarray(image).resize((300, 300))))
        scenes.append(np.asarray(Image.fromarray(image).resize((48, 48))))
    return {"blank": blank, "noise": noise, "gradients": gradients, "textures and objects": scenes}


class PaddedHaar:
    """The Haar cascade on the image padded with its border pixels (a face filling a crop lacks context)."""

    def __init__(self, min_neighbors: int, pad: float = 0.3) -> None:
        self.haar, self.pad = HaarDetector(min_neighbors=min_neighbors), pad

    def __call__(self, image: np.ndarray) -> bool:
        height, width = image.shape[:2]
        border = round(self.pad * max(height, width))
        padded = cv2.copyMakeBorder(as_rgb(image), border, border, border, border, cv2.BORDER_REPLICATE)
        self.haar.min_size = max(12, round(0.25 * min(height, width)))
        return min(padded.shape[:2]) >= self.haar.min_size and bool(self.haar.detect(padded))


def main() -> None:
    sets = {**face_crops(Path(sys.argv[1]), Path(sys.argv[2])), **non_faces()}
    gates = {f"CropGate(min_std={s:g}, min_correlation={c:g})": CropGate(s, c) for s, c in GRID}
    gates |= {f"Haar, padded, min_neighbors={n}": PaddedHaar(n) for n in (0, 1)}
    print("| gate | " + " | ".join(f"{name} (n={len(images)})" for name, images in sets.items()) + " |")
    print("|---" * (1 + len(sets)) + "|")
    for label, gate in gates.items():
        passed = [np.mean([gate(image) for image in images]) for images in sets.values()]
        print(f"| {label} | " + " | ".join(f"{share:.1%}" for share in passed) + " |", flush=True)


if __name__ == "__main__":
    main()
