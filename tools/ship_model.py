"""Ship a trained run as a named model inside the package (src/ferlab/weights/NAME.pt + NAME.onnx).

Chooses the tuned operating point's prior strength on the validation split
(`ferlab.evaluate.balanced.choose_prior_strength`), then evaluates the run's best.pt on the test
split at the three operating points (``--prior data``, ``balanced`` and ``tuned``, see
`ferlab.priors`), each without TTA, with flip and with ten-crop TTA, the temperature fitted on the
validation split each time; stores the weights with the fitted temperatures (one per TTA mode and
operating point, which the application's ``--tta`` and ``--prior`` use), the training class prior,
the tuned strength and the test metrics; exports them to ONNX beside
(the ONNX Runtime backend's bundled graph), and writes the evaluation reports to
results/shipped/NAME/. The model card (src/ferlab/weights/NAME.md) is written by hand from
those reports.

A model file that stores no training class prior or label smoothing (shipped before
2026-12-04) can be shipped again in place with ``--train-config``: the prior is computed from
the training data that config names (the same reading as ``ferlab train``), and the label
smoothing is the config's.

Usage:
    python tools/ship_model.py RUN_DIR --name ferlab-ferplus --data ferplus \\
        --data-root ../shared/data/fer2013 [--mode majority] [--train-config CONFIG.yaml]
"""

from __future__ import annotations

import argparse
import itertools
import os
import shutil
import sys
from dataclasses import replace
from pathlib import Path

from ferlab.data import load_dataset
from ferlab.engine import load_config
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.engine.trainer import training_data
from ferlab.evaluate.balanced import choose_prior_strength
from ferlab.evaluate.evaluation import evaluate_model
from ferlab.evaluate.request import EvalRequest
from ferlab.evaluate.run import run_evaluation
from ferlab.models.files import load_model
from ferlab.models.onnx_export import export_onnx
from ferlab.priors import OutputCalibration
from ferlab.weights import WEIGHTS_DIR

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--mode", default="majority", help="FERPlus label mode of the test split")
    parser.add_argument(
        "--train-config", type=Path, help="training config, for a model file without a class prior or label smoothing"
    )
    args = parser.parse_args()
    options = {"mode": args.mode} if args.data == "ferplus" else {}
    reports = REPO / "results" / "shipped" / args.name
    model, source = load_model(args.run)
    prior, smoothing = source.get("class_prior"), source.get("label_smoothing")
    if prior is None or smoothing is None:
        if args.train_config is None:
            raise SystemExit(f"{args.run} stores no training class prior or label smoothing: give --train-config")
        config = load_config(args.train_config, data_root=str(args.data_root))
        prior = prior if prior is not None else training_data(config)[0].class_prior()
        smoothing = config.label_smoothing
    staged = {**source, "class_prior": [float(p) for p in prior], "label_smoothing": smoothing}
    strength = tuned_strength(model, staged, args.data, args.data_root, options)
    print(f"tuned operating point: prior strength {strength} (chosen on the validation split)")
    weights = Path(os.path.relpath(reports / "staged.pt"))  # evaluate the operating points as they will ship
    reports.mkdir(parents=True, exist_ok=True)
    save_atomically({**staged, "tuned_strength": strength}, weights)
    command = f"python tools/ship_model.py {' '.join(sys.argv[1:])}"
    scores: dict[str, dict[str, dict]] = {"data": {}, "balanced": {}, "tuned": {}}
    for point, tta in itertools.product(scores, ("none", "flip", "tencrop")):
        suffix = "" if point == "data" else f"_prior-{point}"
        request = EvalRequest(
            weights=weights,
            data=args.data,
            data_root=args.data_root,
            split="test",
            data_options=options,
            tta=tta,
            prior=point,
            out=reports / f"test_tta-{tta}{suffix}",
            command=command,
        )
        record, _ = run_evaluation(request)
        scores[point][tta] = record
        print(
            f"prior={point} tta={tta}: accuracy {record['accuracy']:.4f}, mean recall "
            f"{record['balanced_accuracy']:.4f}, macro-F1 {record['macro_f1']:.4f}, T {record['temperature']}"
        )
    shipped = model_record(
        model,
        source["model"],
        source.get("model_options", {}),
        tuple(source["classes"]),
        {
            "test_accuracy": scores["data"]["none"]["accuracy"],
            "test_accuracy_flip_tta": scores["data"]["flip"]["accuracy"],
            "test_accuracy_tencrop_tta": scores["data"]["tencrop"]["accuracy"],
            "test_macro_f1": scores["data"]["none"]["macro_f1"],
            "test_balanced_accuracy": scores["data"]["none"]["balanced_accuracy"],
            "test_balanced_accuracy_balanced_prior": scores["balanced"]["none"]["balanced_accuracy"],
            "test_accuracy_tuned_prior": scores["tuned"]["none"]["accuracy"],
            "test_balanced_accuracy_tuned_prior": scores["tuned"]["none"]["balanced_accuracy"],
            "data": args.data,
            "data_options": options,
        },
        prior,
        source.get("logit_adjustment", 0.0),
        smoothing,
        source.get("class_weights"),
    )
    calibration = replace(OutputCalibration.from_record(shipped), tuned_strength=strength)
    for point, by_tta in scores.items():
        calibration = calibration.with_fitted(point, {tta: float(r["temperature"]) for tta, r in by_tta.items()})
    shipped.update(calibration.to_record())
    target = WEIGHTS_DIR / f"{args.name}.pt"
    save_atomically(shipped, target)
    export_onnx(target, target.with_suffix(".onnx"))
    if Path(args.run).is_dir():
        shutil.copy(Path(args.run) / "metrics.csv", reports / "training_metrics.csv")
    weights.unlink()
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB) and {reports}")


def tuned_strength(model, record: dict, data: str, data_root: Path, options: dict) -> float:
    """The tuned point's prior strength, chosen on the validation split."""
    dataset = load_dataset(data, data_root, "val", **options)
    if tuple(dataset.classes) != tuple(record["classes"]):
        raise SystemExit(f"the validation split's classes {dataset.classes} are not the model's {record['classes']}")
    raw = evaluate_model(model, dataset, tuple(record["classes"]), device="cpu")
    return choose_prior_strength(raw.logits.numpy(), raw.labels.numpy(), OutputCalibration.from_record(record))


if __name__ == "__main__":
    main()
