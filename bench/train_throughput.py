"""Training throughput of study 1's models on this CPU against the CPU's own matmul speed.

    python bench/train_throughput.py [--labels resnet_like,vgg_like] [--variants compile=true,compile=false]
        [--entries configs/studies/fer2013_matched_entries.yaml] [--config configs/studies/fer2013_matched.yaml]

For every entry (label) of a `ferlab compare` entries file and every variant (training
options overriding the protocol, ``;`` between options of one variant: ``compile=false;batch_size=256``)
it runs the real trainer (`ferlab.engine.train`) under the study's protocol for ``--epochs``
epochs on a synthetic 48x48 FER2013 file and takes the last epoch's training images/s (the
first one of a compiled run includes the compilation). Training FLOPs per image are counted
with torch's FlopCounterMode on one forward + backward of the model (a multiply-add counts
as 2). A float32 2048x2048 matmul, measured with the same thread count before the first
run and after every run, gives the reference GFLOP/s; each run's ratio uses the mean of the
measurements just before and after it, against drift.

Beside the trainer's figure, each row times the model's training step alone (forward, loss,
backward, SGD step on one fixed batch, with the variant's batch size, memory format and
compile setting): the ceiling the trainer would reach without reading, augmenting and
bookkeeping, so the gap between the two is the data path's share. Prints a Markdown table;
``--csv`` writes it too. Pause other jobs on the machine while it runs.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from torch.utils.flop_counter import FlopCounterMode

from ferlab.engine import TrainConfig, load_config, train
from ferlab.models import create_model
from ferlab.study.compare import CompareEntry, load_entries, model_config

COLUMNS = (
    "label",
    "variant",
    "images_per_s",
    "train_gflop_per_image",
    "train_gflops",
    "matmul_gflops",
    "ratio",
    "step_images_per_s",
    "step_ratio",
)


def matmul_gflops(size: int = 2048, repeats: int = 10) -> float:
    """GFLOP/s of ``repeats`` float32 ``size x size`` matmuls after one warm-up product."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def train_flops_per_image(entry: CompareEntry, batch: int = 32) -> float:
    """Forward + backward FLOPs per image of the entry's model (training mode, channels_last)."""
    model = create_model(entry.model, **entry.model_options).to(memory_format=torch.channels_last)
    x = torch.randn(batch, *model.input_size).contiguous(memory_format=torch.channels_last)
    with FlopCounterMode(display=False) as counter:
        logits = model.forward_explain(x)["logits"]
        torch.nn.functional.cross_entropy(logits, torch.zeros(batch, dtype=torch.long)).backward()
    return counter.get_total_flops() / batch


def training_step(
    entry: CompareEntry, batch: int, channels_last: bool = True, compile: bool = False, label_smoothing: float = 0.1
) -> Callable[[], None]:
    """The model's training step alone (forward, cross-entropy, backward, SGD step) on one fixed
    random batch, after 3 warm-up calls."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    model = create_model(entry.model, **entry.model_options).to(memory_format=memory_format).train()
    net = torch.compile(model) if compile else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4)
    x = torch.randn(batch, *model.input_size).contiguous(memory_format=memory_format)
    y = torch.randint(0, model.num_classes, (batch,))

    def step() -> None:
        loss = torch.nn.functional.cross_entropy(net(x), y, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(3):
        step()
    return step


def step_images_per_s(entry: CompareEntry, config: TrainConfig, seconds: float = 10.0) -> float:
    """Images/s of the model's training step alone, with the config's batch size, memory format and compile."""
    step = training_step(entry, config.batch_size, config.channels_last, config.compile, config.label_smoothing)
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps * config.batch_size / (time.perf_counter() - start)


def chosen_entries(parser: argparse.ArgumentParser, path: Path, labels: str) -> list[CompareEntry]:
    """The entries of ``path`` named by the comma-separated ``labels``; a parser error for unknown ones."""
    entries = {entry.label: entry for entry in load_entries(path)}
    missing = sorted(set(labels.split(",")) - set(entries))
    if missing:
        parser.error(f"no entry {', '.join(missing)} in {path}; it has {', '.join(entries)}")
    return [entries[label] for label in labels.split(",")]


def write_synthetic_fer2013(path: Path, images: int) -> None:
    """A FER2013 csv of ``images`` random training faces and 64 PublicTest faces."""
    rng = np.random.default_rng(0)
    lines = ["emotion,pixels,Usage"]
    for i in range(images + 64):
        usage = "Training" if i < images else "PublicTest"
        lines.append(f"{i % 7},{' '.join(map(str, rng.integers(0, 256, 2304)))},{usage}")
    path.write_text("\n".join(lines) + "\n")


def parse_variant(text: str) -> dict[str, Any]:
    """``compile=false;batch_size=256`` → ``{"compile": False, "batch_size": 256}`` (values read as YAML)."""
    pairs = [item.split("=", 1) for item in text.split(";") if item]
    return {key.strip(): yaml.safe_load(value) for key, value in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=Path, default=Path("configs/studies/fer2013_matched_entries.yaml"))
    parser.add_argument("--config", type=Path, default=Path("configs/studies/fer2013_matched.yaml"))
    parser.add_argument("--labels", default="resnet_like", help="comma-separated entry labels")
    parser.add_argument("--variants", default="compile=true", help="comma-separated variants")
    parser.add_argument("--images", type=int, default=2048)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--csv", type=Path, default=None)
    args = parser.parse_args()
    entries = chosen_entries(parser, args.entries, args.labels)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "fer2013.csv"
        write_synthetic_fer2013(data, args.images)
        protocol = load_config(args.config, data_root=str(data), epochs=args.epochs)
        before = matmul_gflops()
        for entry in entries:
            flops = train_flops_per_image(entry)
            for variant in args.variants.split(","):
                config = model_config(protocol, entry, Path(folder) / str(len(rows)))
                config = load_config(**{**config.to_dict(), **parse_variant(variant)})
                images_per_s = train(config).history[-1]["images_per_s"]
                step_rate = step_images_per_s(entry, config)
                after = matmul_gflops()
                reference, before = (before + after) / 2, after
                achieved = images_per_s * flops / 1e9
                values = (entry.label, variant, images_per_s, flops / 1e9, achieved, reference, achieved / reference)
                rows.append(dict(zip(COLUMNS, (*values, step_rate, step_rate * flops / 1e9 / reference))))
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; protocol {args.config}, {args.images} synthetic images, "
        f"last of {args.epochs} epochs"
    )
    print("| " + " | ".join(COLUMNS) + " |\n|" + "---|" * len(COLUMNS))
    for row in rows:
        print("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=COLUMNS)
            writer.writeheader()
            writer.writerows(rows)


if __name__ == "__main__":
    main()
