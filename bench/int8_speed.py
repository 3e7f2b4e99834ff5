"""Float32 against static INT8 (`ferlab.models.quantize`) on ONNX Runtime, side by side: faces/s and
FERPlus val decisions.

    python bench/int8_speed.py ferlab-wild RUN [...] --data-root ../shared/data/fer2013 [--threads 2]

Each model is exported (float32) and quantized, calibrated on 512 FERPlus train faces (fixed seed,
majority labels' images; `ferlab.models.quantize.calibration_crops`). Speed: ``predict_proba`` at
batch 1 and 64 on random 48x48 crops, best of 5 runs of at least a second each
(`pipeline_speed.classifier_rate`), every file timed in turn, twice over, the best kept; ratios to
the first model's float32 in the same run. Decisions: FERPlus val (majority labels), data point,
accuracy and mean recall of each file and the share of faces whose decision INT8 keeps.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import onnxruntime
from pipeline_speed import classifier_rate  # the sibling script: run this file as a script

from ferlab.app.onnx_runtime import OnnxClassifier
from ferlab.data import load_dataset
from ferlab.evaluate.balanced import balanced_accuracy, confusion_counts
from ferlab.models.onnx_export import cached_export
from ferlab.models.quantize import calibration_crops, decisions, quantize_onnx


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="shipped model names, run folders or model files")
    parser.add_argument("--data-root", type=Path, required=True, help="the FER2013 + FERPlus folder")
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime's intra-op threads")
    args = parser.parse_args()
    os.environ["FERLAB_THREADS"] = str(args.threads)
    print(
        f"machine: {platform.processor() or platform.machine()}, {args.threads} threads, "
        f"onnxruntime {onnxruntime.__version__}"
    )
    crops = calibration_crops("ferplus", args.data_root, {"mode": "majority"})
    val = load_dataset("ferplus", args.data_root, "val", mode="majority")
    with tempfile.TemporaryDirectory() as scratch:
        files = {}
        for i, model in enumerate(args.models):
            files[(model, "float32")] = cached_export(model)
            files[(model, "int8")] = quantize_onnx(files[(model, "float32")], Path(scratch) / f"{i}.onnx", crops)
        classifiers = {key: OnnxClassifier.load(path, prior="data") for key, path in files.items()}
        rates: dict[tuple[str, str, int], float] = {}
        for _ in range(2):
            for batch in (1, 64):
                for (model, kind), classifier in classifiers.items():
                    key = (model, kind, batch)
                    rates[key] = max(rates.get(key, 0.0), classifier_rate(classifier, batch))
        decided = {key: decisions(classifier, val) for key, classifier in classifiers.items()}
    reference = args.models[0]
    for model, kind in classifiers:
        found = decided[(model, kind)]
        confusion = confusion_counts(val.labels, found, len(val.classes))
        kept = (found == decided[(model, "float32")]).mean()
        speed = ", ".join(
            f"batch {b}: {rates[(model, kind, b)]:,.0f} faces/s "
            f"({rates[(model, kind, b)] / rates[(reference, 'float32', b)]:.2f}x)"
            for b in (1, 64)
        )
        print(
            f"{model} {kind}: {speed}; FERPlus val {(found == val.labels).mean():.1%} / "
            f"{balanced_accuracy(confusion):.1%} mean recall, decisions kept {kept:.2%}"
        )


if __name__ == "__main__":
    main()
