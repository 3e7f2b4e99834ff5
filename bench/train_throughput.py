"""Training throughput of resnet_like on this CPU against the CPU's own matmul speed.

    python bench/train_throughput.py [--model resnet_like] [--images 1024] [--batch-size 128]

Runs the real trainer (`ferlab.engine.train`, basic augmentation, channels_last) for one
epoch on a synthetic 48x48 FER2013 file, takes its images/s, and multiplies by the
training FLOPs per image counted with torch's FlopCounterMode on one forward + backward
(a multiply-add counts as 2). A float32 2048x2048 matmul measured in the same run, with
the same thread count, gives the reference GFLOP/s; the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from ferlab.engine import load_config, train
from ferlab.models import create_model


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def train_flops_per_image(model_name: str, batch: int = 32) -> float:
    model = create_model(model_name).to(memory_format=torch.channels_last)
    x = torch.randn(batch, *model.input_size).contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), torch.zeros(batch, dtype=torch.long)).backward()
    return counter.get_total_flops() / batch


def write_synthetic_fer2013(path: Path, images: int) -> None:
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for i in range(images + 64):
        usage = "Training" if i < images else "PublicTest"
        lines.append(f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}")
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="resnet_like")
    parser.add_argument("--images", type=int, default=1024)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "fer2013.csv"
        write_synthetic_fer2013(data, args.images)
        reference = matmul_gflops()
        config = load_config(
            model=args.model,
            data_root=str(data),
            out=str(Path(folder) / "run"),
            epochs=1,
            batch_size=args.batch_size,
            device="cpu",
            aug="basic",
        )
        result = train(config)
        reference = (reference + matmul_gflops()) / 2  # before and after, against drift
    images_per_s = result.history[0]["images_per_s"]
    flops = train_flops_per_image(args.model)
    achieved = images_per_s * flops / 1e9
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )
    print(f"{args.model} training: {images_per_s:.1f} images/s, {flops / 1e9:.3f} GFLOP per image (fwd+bwd)")
    print(f"achieved training GFLOP/s: {achieved:.1f}")
    print(f"matmul 2048x2048 fp32 GFLOP/s: {reference:.1f}")
    print(f"ratio training/matmul: {achieved / reference:.2f}")


if __name__ == "__main__":
    main()
