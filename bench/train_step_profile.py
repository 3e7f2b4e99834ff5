"""Where a training step's time goes: convolutions against batch norm and element-wise work.

    python bench/train_step_profile.py [--labels resnet_like,vgg_like] [--batch 128]
        [--entries configs/studies/fer2013_matched_entries.yaml]

For each entry (label) of a `ferlab compare` entries file it profiles the model's eager
training step (forward, cross-entropy, backward, SGD step on one fixed channels-last batch,
torch.profiler, after 3 warm-up steps) and splits the step's CPU time into convolutions
(forward and backward), batch norm (forward and backward), linear layers and the rest
(activations, additions, pooling, the optimizer). The convolutions' own GFLOP/s (their
FLOPs counted by FlopCounterMode, divided by their profiled time) is set against a float32
2048x2048 matmul measured in the same run, so the table says how close the step could come
to the matmul rate if everything but the convolutions were free. Pause other jobs while it runs.
"""

from __future__ import annotations

import argparse
import os
import platform
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile
from torch.utils.flop_counter import FlopCounterMode
from train_throughput import chosen_entries, matmul_gflops, training_step

from ferlab.study.compare import CompareEntry

GROUPS = {
    "conv": ("aten::mkldnn_convolution", "aten::convolution_backward", "aten::_convolution"),
    "batch_norm": ("aten::native_batch_norm", "aten::native_batch_norm_backward"),
    "linear": ("aten::mm", "aten::addmm"),
}
"""Profiler operator names (self time) counted in each group; everything else is `other`."""


def step_profile(entry: CompareEntry, batch: int, steps: int = 5) -> dict[str, float]:
    """Self CPU seconds per step of each group, and the convolutions' FLOPs per step."""
    step = training_step(entry, batch)
    with FlopCounterMode(display=False) as counter:
        step()
    conv_flops = sum(count for op, count in counter.get_flop_counts()["Global"].items() if "convolution" in str(op))
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            step()
    seconds = dict.fromkeys([*GROUPS, "other"], 0.0)
    for event in profiler.key_averages():
        group = next((name for name, ops in GROUPS.items() if event.key in ops), "other")
        seconds[group] += event.self_cpu_time_total / 1e6 / steps
    return {**seconds, "conv_flops": float(conv_flops)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=Path, default=Path("configs/studies/fer2013_matched_entries.yaml"))
    parser.add_argument("--labels", default="resnet_like,vgg_like,inception_resnet_prelu")
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    entries = chosen_entries(parser, args.entries, args.labels)
    before = matmul_gflops()
    print(
        f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; batch {args.batch}, eager, channels-last"
    )
    print("| label | step ms | conv | batch norm | linear | other | conv GFLOP/s | matmul GFLOP/s | conv / matmul |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for entry in entries:
        row = step_profile(entry, args.batch)
        after = matmul_gflops()
        reference, before = (before + after) / 2, after
        total = sum(row[group] for group in [*GROUPS, "other"])
        shares = " | ".join(f"{row[group] / total:.0%}" for group in [*GROUPS, "other"])
        conv_rate = row["conv_flops"] / row["conv"] / 1e9
        rates = f"{conv_rate:.0f} | {reference:.0f} | {conv_rate / reference:.2f}"
        print(f"| {entry.label} | {total * 1e3:.0f} | {shares} | {rates} |")


if __name__ == "__main__":
    main()
