"""Evaluation: scores, calibration, TTA, robustness to occlusion, cross-dataset transfer.

>>> from ferlab.models.files import load_model
>>> from ferlab.data import load_dataset
>>> from ferlab.evaluate import evaluate_model
>>> model, record = load_model("runs/exp1")                                  # doctest: +SKIP
>>> test = load_dataset("ferplus", "data/fer2013", "test")                   # doctest: +SKIP
>>> val = load_dataset("ferplus", "data/fer2013", "val")                     # doctest: +SKIP
>>> result = evaluate_model(model, test, record["classes"], tta="flip", calibration_set=val)  # doctest: +SKIP
>>> result.metrics["accuracy"], result.metrics["calibration"]["ece_after"]  # doctest: +SKIP
"""

from ferlab.evaluate.calibration import calibration_scores, fit_temperature
from ferlab.evaluate.crossdata import LabelAlignment, align_labels
from ferlab.evaluate.evaluation import EvalResult, evaluate_model
from ferlab.evaluate.inference import predict_logits
from ferlab.evaluate.metrics import classification_metrics, expected_calibration_error, negative_log_likelihood
from ferlab.evaluate.robustness import OCCLUSION_MODES, occlude
from ferlab.evaluate.subset import read_subset_file, select_subset

__all__ = [
    "OCCLUSION_MODES",
    "EvalResult",
    "LabelAlignment",
    "align_labels",
    "calibration_scores",
    "classification_metrics",
    "evaluate_model",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "occlude",
    "predict_logits",
    "read_subset_file",
    "select_subset",
]
