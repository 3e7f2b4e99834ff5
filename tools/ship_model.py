"""Ship a trained run as a named model inside the package (src/ferlab/weights/NAME.pt + NAME.onnx).

Evaluates the run's best.pt on the test split (without TTA, with flip and with ten-crop
TTA; temperature fitted on the validation split), stores the weights with the fitted
temperatures (one per TTA mode, which the application's ``--tta`` uses) and the test
metrics, exports them to ONNX beside (the ONNX Runtime backend's bundled graph), and
copies the evaluation reports to results/shipped/NAME/. The model card
(src/ferlab/weights/NAME.md) is written by hand from those reports.

Usage:
    python tools/ship_model.py RUN_DIR --name ferlab-ferplus --data ferplus \\
        --data-root ../shared/data/fer2013 [--mode majority]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.evaluate.request import EvalRequest
from ferlab.evaluate.run import run_evaluation
from ferlab.models.files import load_model
from ferlab.models.onnx_export import export_onnx
from ferlab.weights import WEIGHTS_DIR

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--data-root", type=Path, required=True)
    parser.add_argument("--mode", default="majority", help="FERPlus label mode of the test split")
    args = parser.parse_args()
    options = {"mode": args.mode} if args.data == "ferplus" else {}
    reports = REPO / "results" / "shipped" / args.name
    scores = {}
    for tta in ("none", "flip", "tencrop"):
        command = (
            f"python tools/ship_model.py {args.run} --name {args.name} --data {args.data} "
            f"--data-root {args.data_root} --mode {args.mode}"
        )
        request = EvalRequest(
            weights=args.run,
            data=args.data,
            data_root=args.data_root,
            split="test",
            data_options=options,
            tta=tta,
            out=reports / f"test_tta-{tta}",
            command=command,
        )
        record, _ = run_evaluation(request)
        scores[tta] = record
        print(
            f"tta={tta}: accuracy {record['accuracy']:.4f}, macro-F1 {record['macro_f1']:.4f}, "
            f"T {record['temperature']}"
        )
    model, source = load_model(args.run)
    shipped = model_record(
        model,
        source["model"],
        source.get("model_options", {}),
        tuple(source["classes"]),
        {
            "test_accuracy": scores["none"]["accuracy"],
            "test_accuracy_flip_tta": scores["flip"]["accuracy"],
            "test_accuracy_tencrop_tta": scores["tencrop"]["accuracy"],
            "test_macro_f1": scores["none"]["macro_f1"],
            "data": args.data,
            "data_options": options,
        },
    )
    shipped["temperature"] = float(scores["none"]["temperature"])
    shipped["tta_temperatures"] = {tta: float(record["temperature"]) for tta, record in scores.items()}
    target = WEIGHTS_DIR / f"{args.name}.pt"
    save_atomically(shipped, target)
    export_onnx(target, target.with_suffix(".onnx"))
    shutil.copy(Path(args.run) / "metrics.csv", reports / "training_metrics.csv")
    print(f"wrote {target} ({target.stat().st_size / 1e6:.2f} MB) and {reports}")


if __name__ == "__main__":
    main()
