"""Evaluation: scores, calibration, TTA, robustness to occlusion, cross-dataset transfer.

Every name is imported on first use, so the torch-free modules (`ferlab.evaluate.request`,
`ferlab.evaluate.robustness`) load without torch and torchmetrics.

>>> from ferlab.models.files import load_model
>>> from ferlab.data import load_dataset
>>> from ferlab.evaluate import evaluate_model
>>> model, record = load_model("runs/exp1")                                  # doctest: +SKIP
>>> test = load_dataset("ferplus", "data/fer2013", "test")                   # doctest: +SKIP
>>> val = load_dataset("ferplus", "data/fer2013", "val")                     # doctest: +SKIP
>>> result = evaluate_model(model, test, record["classes"], tta="flip", calibration_set=val)  # doctest: +SKIP
>>> result.metrics["accuracy"], result.metrics["calibration"]["ece_after"]  # doctest: +SKIP
"""

from ferlab.lazy import lazy_exports

_HOMES = {
    "calibration_scores": "ferlab.evaluate.calibration",
    "fit_temperature": "ferlab.evaluate.calibration",
    "LabelAlignment": "ferlab.evaluate.crossdata",
    "align_labels": "ferlab.evaluate.crossdata",
    "EvalResult": "ferlab.evaluate.evaluation",
    "evaluate_model": "ferlab.evaluate.evaluation",
    "predict_logits": "ferlab.evaluate.inference",
    "classification_metrics": "ferlab.evaluate.metrics",
    "expected_calibration_error": "ferlab.evaluate.metrics",
    "negative_log_likelihood": "ferlab.evaluate.metrics",
    "OCCLUSION_MODES": "ferlab.evaluate.robustness",
    "occlude": "ferlab.evaluate.robustness",
    "read_subset_file": "ferlab.evaluate.subset",
    "select_subset": "ferlab.evaluate.subset",
}

__all__ = sorted(_HOMES)
__getattr__ = lazy_exports(__name__, _HOMES)
