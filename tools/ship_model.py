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

With ``--int8`` the bundled ONNX graph is the static INT8 quantization of that export
(`ferlab.models.quantize`, calibrated on 512 faces of the training split), for a network too wide
for the speed floor in float32; the INT8 graph is then scored on the test split beside the float32
one at each operating point (accuracy, mean recall, decisions kept) into results/shipped/NAME/int8.json.
With ``--half`` the weights are stored in float16 (half the file; they load into a float32
network): every figure, the chosen strength and the export are of the rounded weights.

A model file that stores no training class prior or label smoothing (shipped before
2026-12-04) can be shipped again in place with ``--train-config``: the prior is computed from
the training data that config names (the same reading as ``ferlab train``), and the label
smoothing is the config's.

Usage:
    python tools/ship_model.py RUN_DIR --name ferlab-ferplus --data ferplus \\
        --data-root ../shared/data/fer2013 [--mode majority] [--train-config CONFIG.yaml] [--int8] [--half]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ferlab.app.onnx_runtime import OnnxClassifier
from ferlab.data import load_dataset
from ferlab.engine import load_config
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.engine.trainer import training_data
from ferlab.evaluate.balanced import balanced_accuracy, choose_prior_strength, confusion_counts
from ferlab.evaluate.evaluation import evaluate_model
from ferlab.evaluate.request import EvalRequest
from ferlab.evaluate.run import run_evaluation
from ferlab.models.files import load_model
from ferlab.models.onnx_export import export_onnx
from ferlab.models.quantize import calibration_crops, decisions, quantize_onnx
from ferlab.priors import PRIORS, OutputCalibration
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
    parser.add_argument("--int8", action="store_true", help="bundle the static INT8 quantization of the export")
    parser.add_argument("--half", action="store_true", help="store the weights in float16")
    args = parser.parse_args()
    options = {"mode": args.mode} if args.data == "ferplus" else {}
    reports = REPO / "results" / "shipped" / args.name
    model, source = load_model(args.run)
    if args.half:
        source = {**source, "state_dict": half_weights(source["state_dict"])}
        model.load_state_dict(source["state_dict"])  # the float32 network computes with the rounded weights
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
    if args.half:
        shipped["state_dict"] = half_weights(shipped["state_dict"])
    target = WEIGHTS_DIR / f"{args.name}.pt"
    save_atomically(shipped, target)
    export_onnx(target, target.with_suffix(".onnx"))
    if args.int8:
        bundle_int8(target.with_suffix(".onnx"), args.data, args.data_root, options, reports)
    if Path(args.run).is_dir():
        shutil.copy(Path(args.run) / "metrics.csv", reports / "training_metrics.csv")
    weights.unlink()
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB) and {reports}")


def half_weights(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``state`` with its floating-point tensors in float16 (counters and other integers as they are)."""
    return {key: value.half() if value.is_floating_point() else value for key, value in state.items()}


def bundle_int8(onnx_file: Path, data: str, data_root: Path, options: dict, reports: Path) -> None:
    """Replace the float32 export ``onnx_file`` by its INT8 quantization (calibrated on the training
    split), and write both graphs' test decisions at each operating point, as the application makes
    them (`OnnxClassifier`, no TTA), to ``reports/int8.json``."""
    test = load_dataset(data, data_root, "test", **options)
    with tempfile.TemporaryDirectory() as scratch:
        float32 = Path(shutil.copyfile(onnx_file, Path(scratch) / "float32.onnx"))
        quantize_onnx(float32, onnx_file, calibration_crops(data, data_root, options))
        scores = {point: int8_scores(float32, onnx_file, test, point) for point in PRIORS}
    (reports / "int8.json").write_text(json.dumps(scores, indent=2) + "\n")
    for point, score in scores.items():
        print(f"INT8 bundle, prior={point}: {score}")


def int8_scores(float32: Path, int8: Path, dataset, prior: str) -> dict[str, float]:
    """Accuracy and mean recall of the float32 and INT8 graphs on ``dataset`` at ``prior``, and the
    share of its faces whose decision INT8 keeps."""
    graphs = {"float32": float32, "int8": int8}
    decided = {kind: decisions(OnnxClassifier.load(path, prior=prior), dataset) for kind, path in graphs.items()}
    scores = {"decisions_kept": float(np.mean(decided["float32"] == decided["int8"]))}
    for kind, found in decided.items():
        confusion = confusion_counts(dataset.labels, found, len(dataset.classes))
        scores[f"{kind}_accuracy"] = float(np.mean(found == dataset.labels))
        scores[f"{kind}_mean_recall"] = balanced_accuracy(confusion)
    return scores


def tuned_strength(model, record: dict, data: str, data_root: Path, options: dict) -> float:
    """The tuned point's prior strength, chosen on the validation split."""
    dataset = load_dataset(data, data_root, "val", **options)
    if tuple(dataset.classes) != tuple(record["classes"]):
        raise SystemExit(f"the validation split's classes {dataset.classes} are not the model's {record['classes']}")
    raw = evaluate_model(model, dataset, tuple(record["classes"]), device="cpu")
    return choose_prior_strength(raw.logits.numpy(), raw.labels.numpy(), OutputCalibration.from_record(record))


if __name__ == "__main__":
    main()
