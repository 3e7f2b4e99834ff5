"""Calibration of a shipped model's balanced operating point at given temperatures, with images or
classes weighing the same (issue #31; `ferlab.evaluate.calibration`).

    python bench/balanced_calibration.py ferlab-wild --data ferplus --data-root ../shared/data/fer2013 \\
        --temperatures 1 0.913 0.906

Prints, per split (val, test) and temperature, the top-label ECE (15 bins) and NLL of the balanced
point's logits divided by the temperature, once with every class weighing the same and once with
every image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ferlab.data import load_dataset
from ferlab.evaluate.evaluation import evaluate_model
from ferlab.evaluate.metrics import expected_calibration_error, negative_log_likelihood
from ferlab.models.files import load_model
from ferlab.priors import OutputCalibration
from ferlab.weights import shipped_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="shipped model name")
    parser.add_argument("--data", required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0])
    args = parser.parse_args()
    model, record = load_model(shipped_path(args.model))
    balanced = OutputCalibration.from_record(record).adjuster("balanced")
    options = {"mode": "majority"} if args.data == "ferplus" else {}
    print("| split | T | ECE, classes weigh the same | NLL, classes | ECE, images weigh the same | NLL, images |")
    print("|---|---|---|---|---|---|")
    for split in ("val", "test"):
        dataset = load_dataset(args.data, args.data_root, split, **options)
        result = evaluate_model(model, dataset, record["classes"], adjust_logits=balanced)
        for t in args.temperatures:
            logits = result.logits / t
            cells = [
                f(logits, result.labels, class_balanced=weighted)
                for weighted in (True, False)
                for f in (expected_calibration_error, negative_log_likelihood)
            ]
            print(f"| {split} | {t:.3f} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")


if __name__ == "__main__":
    main()
