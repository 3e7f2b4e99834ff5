"""Faces/s of the classifier on PyTorch and on ONNX Runtime, side by side, on this CPU.

    python bench/onnx_speed.py [--model ferlab-wild] [--threads N]

Both backends classify the same random 48x48 crops at batch 1 and batch 64 through
``predict_proba`` (preprocessing and softmax included), best of 5 runs of at least one
second each (`pipeline_speed.classifier_rate`); the ONNX file is exported to the user
cache dir on first use. ``--threads`` sets both backends' threads (torch's, and ONNX Runtime's
through ``FERLAB_THREADS``).
"""

from __future__ import annotations

import argparse
import os
import platform

import onnxruntime
import torch
from pipeline_speed import classifier_rate  # the sibling script: run this file as a script

from ferlab.app.classifier import load_classifier
from ferlab.weights import DEFAULT_MODEL


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=None, help="threads of both backends (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
        os.environ["FERLAB_THREADS"] = str(args.threads)  # ONNX Runtime's intra-op threads
    backends = {backend: load_classifier(args.model, backend) for backend in ("torch", "onnx")}
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"model {args.model}, torch {torch.__version__}, onnxruntime {onnxruntime.__version__}"
    )
    for batch in (1, 64):
        rates = {backend: classifier_rate(classifier, batch) for backend, classifier in backends.items()}
        print(
            f"batch {batch:2d}: torch {rates['torch']:,.0f} faces/s, onnx {rates['onnx']:,.0f} faces/s, "
            f"onnx/torch {rates['onnx'] / rates['torch']:.2f}x"
        )


if __name__ == "__main__":
    main()
