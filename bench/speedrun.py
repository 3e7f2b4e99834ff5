"""FER2013 speedrun: train from scratch on this CPU with a fixed recipe, report wall time and PrivateTest accuracy.

    python bench/speedrun.py --data-root ../shared/data/fer2013 [--runs 3] [--out runs/speedrun]
                             [--config configs/speedrun_fer2013.yaml]

In the spirit of the CIFAR-10 speedruns. Each run (seed 0, 1, 2, ...) starts the clock,
trains `configs/speedrun_fer2013.yaml` (from the raw fer2013.csv(.gz) parse or the
ferlab cache), scores the best-on-validation (PublicTest) weights on PrivateTest with
flip TTA, and stops the clock. Target: at least 65% PrivateTest accuracy in at most 30
minutes of wall time, in every run. One row per run is appended to ``OUT/speedrun.csv``
(seed, wall seconds, epochs, PrivateTest accuracy with and without flip TTA, pass/fail).
"""

from __future__ import annotations

import argparse
import csv
import platform
import time
from datetime import datetime
from pathlib import Path

import torch
from rich.console import Console

from ferlab.data import load_dataset
from ferlab.engine import load_config, load_model, train
from ferlab.evaluate import evaluate_model

TARGET_ACCURACY, TARGET_SECONDS = 0.65, 30 * 60
FIELDS = ("date", "seed", "wall_s", "epochs", "test_acc_flip_tta", "test_acc", "passed", "machine", "config")


def speedrun(config_path: Path, data_root: Path, out: Path, seed: int, console: Console) -> dict[str, object]:
    """One timed run: train, then score best.pt on the test split (PrivateTest); the clock covers both."""
    config = load_config(config_path, data_root=str(data_root), out=str(out / f"seed{seed}"), seed=seed)
    start = time.perf_counter()
    result = train(config, console=console)
    model, record = load_model(result.run_dir)
    test = load_dataset(config.data, data_root, "test", **config.data_options)
    flip = evaluate_model(model, test, record["classes"], tta="flip").metrics["accuracy"]
    wall = time.perf_counter() - start
    plain = evaluate_model(model, test, record["classes"]).metrics["accuracy"]  # outside the clock: a reference
    return {
        "date": datetime.now().isoformat(timespec="seconds"),
        "seed": seed,
        "wall_s": round(wall, 1),
        "epochs": len(result.history),
        "test_acc_flip_tta": round(flip, 4),
        "test_acc": round(plain, 4),
        "passed": flip >= TARGET_ACCURACY and wall <= TARGET_SECONDS,
        "machine": f"{platform.machine()} {torch.get_num_threads()} threads, torch {torch.__version__}",
        "config": str(config_path),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path("configs/speedrun_fer2013.yaml"))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/speedrun"))
    args = parser.parse_args()
    console = Console()
    args.out.mkdir(parents=True, exist_ok=True)
    table = args.out / "speedrun.csv"
    for seed in range(args.first_seed, args.first_seed + args.runs):
        row = speedrun(args.config, args.data_root, args.out, seed, console)
        new = not table.exists()
        with table.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, FIELDS)
            if new:
                writer.writeheader()
            writer.writerow(row)
        console.print(
            f"seed {seed}: {row['wall_s'] / 60:.1f} min, PrivateTest {row['test_acc_flip_tta']:.2%} flip TTA "
            f"({row['test_acc']:.2%} plain), {'PASS' if row['passed'] else 'FAIL'} "
            f"(target >= {TARGET_ACCURACY:.0%} in <= {TARGET_SECONDS // 60} min)",
            highlight=False,
        )


if __name__ == "__main__":
    main()
