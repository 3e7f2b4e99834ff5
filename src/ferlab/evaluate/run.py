"""The `ferlab eval` job: load a model and a split, evaluate, write the report.

With a detector, the job is end to end instead (`ferlab.evaluate.end_to_end`): each labelled
image file goes through the application's detect → align → classify path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ferlab.data import FaceDataset, SplitUnavailable, load_dataset
from ferlab.errors import FerlabError
from ferlab.evaluate.end_to_end import end_to_end_metrics, score_photos, write_predictions
from ferlab.evaluate.evaluation import evaluate_model
from ferlab.evaluate.inference import default_device
from ferlab.evaluate.report import write_report
from ferlab.evaluate.request import EvalRequest, default_out_dir
from ferlab.evaluate.subset import select_subset
from ferlab.models.files import load_model
from ferlab.priors import OutputCalibration
from ferlab.version import package_version

PREDICTIONS_NAME = "predictions.csv"


def _validation_split(request: EvalRequest) -> tuple[FaceDataset | None, str]:
    """The val split of the evaluated dataset to fit the temperature on, or None and why not."""
    try:
        return load_dataset(request.data, request.data_root, "val", **request.data_options), ""
    except SplitUnavailable as error:
        return None, f"the dataset has no val split ({error})"


def _run_info(request: EvalRequest) -> dict[str, Any]:
    return {
        "command": request.command,
        "ferlab_version": package_version(),
        "weights": str(request.weights),
        "data_root": str(request.data_root),
        "data_options": request.data_options,
        "subset": None if request.subset is None else str(request.subset),
    }


def run_end_to_end(request: EvalRequest) -> tuple[dict[str, Any], Path]:
    """Score `request`'s labelled image files through the application (see `ferlab.evaluate.end_to_end`);
    write metrics.json and predictions.csv; return the metrics.json record and the folder."""
    from ferlab.app.analyze import FaceAnalyzer

    dataset = load_dataset(request.data, request.data_root, request.split, **request.data_options)
    if request.subset is not None:
        dataset = select_subset(dataset, request.subset)
    files = [Path(request.data_root) / name for name in dataset.ids]
    missing = [f for f in files if not f.is_file()]
    if missing:
        raise FerlabError(
            f"{request.data_root}: end-to-end scoring needs image files, and dataset "
            f"{request.data!r} holds none (first id: {dataset.ids[0]}); score it without --detector"
        )
    analyzer = FaceAnalyzer(
        request.detector, request.weights, backend=request.backend or "auto", tta=request.tta, prior=request.prior
    )
    scores, unreadable = score_photos(files, [dataset.classes[i] for i in dataset.labels], analyzer)
    out_dir = request.out or default_out_dir(request)
    record = {
        **_run_info(request),
        "model": analyzer.classifier.name,
        "model_classes": list(analyzer.classifier.classes),
        "backend": analyzer.classifier.backend,
        "detector": request.detector,
        "tta": request.tta,
        "prior": request.prior,
        "prior_strength": analyzer.classifier.calibration.strength(request.prior),
        "data": request.data,
        "split": request.split,
        "crop_rule": analyzer.crop_rule,
        **end_to_end_metrics(scores, analyzer.classifier.classes),
        "problems": [{"file": p.path, "reason": p.reason} for p in [*dataset.problems, *unreadable]],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    write_predictions(scores, out_dir / PREDICTIONS_NAME)
    return record, out_dir


def run_evaluation(request: EvalRequest) -> tuple[dict[str, Any], Path]:
    """Evaluate as `request` says, write the report; return the metrics.json record and the folder.

    On crops the model runs as ``request.backend`` says: the trained network (torch, the default) or its
    ONNX graph (`ferlab.app.load_classifier`), with the same operating point, TTA and temperature fit."""
    if request.detector is not None:
        return run_end_to_end(request)
    if request.backend == "onnx":
        from ferlab.app.classifier import load_classifier

        model = load_classifier(request.weights, "onnx", request.tta, request.prior)
        classes, calibration, name = model.classes, model.calibration, model.name
    else:
        model, record = load_model(request.weights)
        classes, calibration, name = record["classes"], OutputCalibration.from_record(record), record["model"]
    try:
        adjust = calibration.adjuster(request.prior)
    except FerlabError as error:
        raise FerlabError(f"{request.weights}: {error}") from None
    dataset = load_dataset(request.data, request.data_root, request.split, **request.data_options)
    if request.subset is not None:
        dataset = select_subset(dataset, request.subset)
    calibration_set, skip_reason = _validation_split(request)
    device = default_device()
    result = evaluate_model(
        model,
        dataset,
        classes,
        tta=request.tta,
        adjust_logits=adjust,
        class_balanced_calibration=request.prior == "balanced",
        batch_size=request.batch_size,
        device=device,
        occlusion=request.occlusion,
        seed=request.seed,
        calibration_set=calibration_set,
        calibration_skip_reason=skip_reason,
    )
    out_dir = request.out or default_out_dir(request)
    run_info = {
        **_run_info(request),
        "model": name,
        "model_classes": list(classes),
        "backend": request.backend or "torch",
        "prior": request.prior,
        "prior_strength": calibration.strength(request.prior),
        "occlusion_seed": request.seed,
        "batch_size": request.batch_size,
        "device": str(device),
    }
    return write_report(result, out_dir, run_info), out_dir
