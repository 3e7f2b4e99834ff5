"""Per-image cost of training augmentation: torchvision v2 per image vs Kornia on batches.

    python bench/augment_speed.py [--batch 256] [--threads 1]

Both pipelines do the ``basic`` preset (flip, rotation ±10°, shift ±10%, zoom ±10%) on
48x48 grayscale images, in one run, and the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torchvision.transforms import v2

from ferlab.data.transforms import augmentation


def per_image_seconds(fn, repeats: int, images: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / (repeats * images)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    batch = torch.randint(0, 256, (args.batch, 1, 48, 48), dtype=torch.uint8)
    per_image = v2.Compose(
        [
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1)),
            v2.ToDtype(torch.float32, scale=True),
        ]
    )
    batched = augmentation("basic")
    v2_s = per_image_seconds(lambda: [per_image(image) for image in batch], 3, args.batch)
    kornia_s = per_image_seconds(lambda: batched(batch.float() / 255), 10, args.batch)
    print(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch threads {args.threads}")
    print(f"torchvision v2, per image: {v2_s * 1e6:8.1f} us/image")
    print(f"kornia, batch of {args.batch}:   {kornia_s * 1e6:8.1f} us/image")
    print(f"ratio v2/kornia: {v2_s / kornia_s:.1f}x")


if __name__ == "__main__":
    main()
