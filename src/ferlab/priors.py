"""How a model's logits become probabilities: temperature and operating point (torch-free).

Below both layers: the application's classifiers (`ferlab.app.crop_classifier`), ``ferlab eval``
and the ONNX export all read one `OutputCalibration` from a model file or ONNX metadata.

Three operating points (``--prior``), from the training class prior ``pi`` a model file stores:

* ``data``: the classes in the shares the model was trained on (FERPlus: 35% neutral, 0.5%
  contempt): the most accurate on data shaped like the training set;
* ``balanced``: the logits minus ``log pi``, as if every class were equally likely (Menon et al.
  2021's post-hoc logit adjustment): rare expressions (disgust, fear, contempt) are named more
  often, frequent ones less;
* ``tuned``: between the two, the logits minus ``s log pi`` with the strength ``0 <= s <= 1`` the
  model file stores, chosen on the validation split when the model was shipped
  (`ferlab.evaluate.balanced.choose_prior_strength`: the most mean recall for at most a point of
  accuracy): part of the rare classes' gain for little accuracy. A model that stores no strength
  (a run folder, a file shipped before 2026-12-05) has its data point as its tuned point.

A model trained with a logit-adjusted loss (``logit_adjustment: tau``) outputs logits that
already carry ``-tau log pi``; the stored ``tau`` is added back, so both points mean the same
thing for every model: ``data = raw + tau log pi`` and ``balanced = data - log pi``.

A model trained with label smoothing ``eps`` learns ``p = (1 - eps) q + eps / C`` rather than
the class probabilities ``q``: no class falls below ``eps / C``, and ``-log pi`` of a rare class
(contempt, 0.4% of FERPlus: +5.6) then outweighs every margin the network learned. Its
balanced point first takes that floor out: ``balanced = log max((p - eps/C) / (1 - eps), 1e-4)
- log pi``, with ``p`` the softmax of the data point (the data point is unchanged: the floor
does not move its argmax, and its temperature absorbs it).

A model trained with class weights ``w`` (``class_balance``) learns ``p(c|x)`` times ``w_c``: its
raw outputs already lean toward the rare classes. Both points take ``log w`` out first
(``data = raw + tau log pi - log w``), so ``data`` means the training prior and ``balanced`` a
uniform one for it too. (With a teacher's unweighted loss mixed in, the lean is smaller than
``log w``: the correction is then approximate.)
Each point has its own temperature per TTA mode, fitted on the validation split when the model
was shipped (``tools/ship_model.py``), so its probabilities stay calibrated: the data point's with
every image weighing the same, the balanced point's with every class weighing the same, the tuned
point's with every image weighing the same (it stays close to the data shares).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ferlab.checks import check_choice
from ferlab.errors import FerlabError

PRIORS: tuple[str, ...] = ("data", "balanced", "tuned")
"""The operating points: the training class prior, every class equally likely, or the model's own
strength between the two."""
DEFAULT_PRIOR = "tuned"
"""The operating point the application uses unless told otherwise (see the README, "Operating point")."""
SMOOTHING_FLOOR = 1e-4
"""The least probability a class keeps once label smoothing's floor is taken out."""


@dataclass(frozen=True)
class OutputCalibration:
    """What turns a model's raw logits into calibrated probabilities at either operating point.

    Attributes:
        temperature: the ``data`` point's temperature without TTA (1.0: not fitted).
        tta_temperatures: the ``data`` point's temperature per TTA mode, where fitted.
        balanced_tta_temperatures: the ``balanced`` point's temperature per TTA mode, where fitted.
        tuned_strength: the ``tuned`` point's ``s`` (None: not chosen; its tuned point is its data point).
        tuned_tta_temperatures: the ``tuned`` point's temperature per TTA mode, where fitted.
        class_prior: the training class shares, in output order (None: not stored; such a model
            has only the ``data`` point).
        logit_adjustment: the ``tau`` of the logit-adjusted loss it was trained with (0: none).
        label_smoothing: the label smoothing ``eps`` it was trained with (0: none).
        class_weights: the label loss's class weights it was trained with (None: unweighted).
    """

    temperature: float = 1.0
    tta_temperatures: Mapping[str, float] = field(default_factory=dict)
    balanced_tta_temperatures: Mapping[str, float] = field(default_factory=dict)
    class_prior: tuple[float, ...] | None = None
    logit_adjustment: float = 0.0
    label_smoothing: float = 0.0
    class_weights: tuple[float, ...] | None = None
    tuned_strength: float | None = None
    tuned_tta_temperatures: Mapping[str, float] = field(default_factory=dict)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> OutputCalibration:
        """The calibration a model file (record) stores; defaults for what older files lack."""
        prior = record.get("class_prior")
        return cls(
            float(record.get("temperature", 1.0)),
            dict(record.get("tta_temperatures", {})),
            dict(record.get("balanced_tta_temperatures", {})),
            _floats(prior),
            float(record.get("logit_adjustment", 0.0)),
            float(record.get("label_smoothing", 0.0)),
            _floats(record.get("class_weights")),
            _float_or_none(record.get("tuned_strength")),
            dict(record.get("tuned_tta_temperatures", {})),
        )

    def to_record(self) -> dict[str, Any]:
        """The model-file fields (plain data) of this calibration."""
        record: dict[str, Any] = {
            "temperature": float(self.temperature),
            "tta_temperatures": {k: float(v) for k, v in self.tta_temperatures.items()},
            "balanced_tta_temperatures": {k: float(v) for k, v in self.balanced_tta_temperatures.items()},
            "logit_adjustment": float(self.logit_adjustment),
            "label_smoothing": float(self.label_smoothing),
            "class_weights": None if self.class_weights is None else list(self.class_weights),
            "tuned_strength": _float_or_none(self.tuned_strength),
            "tuned_tta_temperatures": {k: float(v) for k, v in self.tuned_tta_temperatures.items()},
        }
        if self.class_prior is not None:
            record["class_prior"] = list(self.class_prior)
        return record

    def to_metadata(self) -> dict[str, str]:
        """ONNX ``metadata_props`` entries (strings): ``ferlab.temperature``, ``ferlab.tta_temperatures``,
        ``ferlab.balanced_tta_temperatures``, ``ferlab.class_prior`` (JSON list or null),
        ``ferlab.logit_adjustment``, ``ferlab.label_smoothing``, ``ferlab.class_weights`` (JSON list
        or null), ``ferlab.tuned_strength`` (JSON number or null) and ``ferlab.tuned_tta_temperatures``."""
        return {
            "ferlab.temperature": repr(float(self.temperature)),
            "ferlab.tta_temperatures": json.dumps({k: float(v) for k, v in self.tta_temperatures.items()}),
            "ferlab.balanced_tta_temperatures": json.dumps(
                {k: float(v) for k, v in self.balanced_tta_temperatures.items()}
            ),
            "ferlab.class_prior": json.dumps(None if self.class_prior is None else list(self.class_prior)),
            "ferlab.logit_adjustment": repr(float(self.logit_adjustment)),
            "ferlab.label_smoothing": repr(float(self.label_smoothing)),
            "ferlab.class_weights": json.dumps(None if self.class_weights is None else list(self.class_weights)),
            "ferlab.tuned_strength": json.dumps(_float_or_none(self.tuned_strength)),
            "ferlab.tuned_tta_temperatures": json.dumps({k: float(v) for k, v in self.tuned_tta_temperatures.items()}),
        }

    @classmethod
    def from_metadata(cls, meta: Mapping[str, str]) -> OutputCalibration:
        """Read `to_metadata`'s entries back (``ferlab.temperature`` is required; defaults for the
        entries an older export lacks). Raises KeyError or ValueError on a foreign file."""
        prior = json.loads(meta.get("ferlab.class_prior", "null"))
        return cls(
            float(meta["ferlab.temperature"]),
            json.loads(meta.get("ferlab.tta_temperatures", "{}")),
            json.loads(meta.get("ferlab.balanced_tta_temperatures", "{}")),
            _floats(prior),
            float(meta.get("ferlab.logit_adjustment", "0.0")),
            float(meta.get("ferlab.label_smoothing", "0.0")),
            _floats(json.loads(meta.get("ferlab.class_weights", "null"))),
            _float_or_none(json.loads(meta.get("ferlab.tuned_strength", "null"))),
            json.loads(meta.get("ferlab.tuned_tta_temperatures", "{}")),
        )

    def adjuster(self, prior: str) -> Callable[[np.ndarray], np.ndarray]:
        """The map from raw logits ``(N, C)`` to the logits of operating point ``prior`` (float32;
        the temperature is applied after it). Raises `FerlabError` for a point other than the data
        point on a model without a stored prior."""
        strength = self.strength(prior)
        if self.class_prior is None:
            if strength:
                raise FerlabError(
                    f"this model stores no training class prior, so it has no {prior} operating point; "
                    "use --prior data (models trained or shipped since 2026-12-04 store one)"
                )
            return lambda logits: np.asarray(logits, dtype=np.float32)
        log_prior = np.log(np.clip(np.asarray(self.class_prior, dtype=np.float64), 1e-12, None))
        to_trained = self.logit_adjustment * log_prior  # the logits the training loss saw
        weights = np.asarray(self.class_weights if self.class_weights is not None else 1.0, dtype=np.float64)
        log_weights = np.log(np.where(weights > 0, weights, 1.0))  # a class absent in training: no lean to take out
        if not strength:
            return lambda logits: (np.asarray(logits, dtype=np.float64) + to_trained - log_weights).astype(np.float32)
        smoothing = self.label_smoothing

        def shifted(logits: np.ndarray) -> np.ndarray:
            trained = np.asarray(logits, dtype=np.float64) + to_trained
            if smoothing:
                p = np.exp(trained - trained.max(axis=1, keepdims=True))
                p /= p.sum(axis=1, keepdims=True)
                trained = np.log(np.maximum((p - smoothing / p.shape[1]) / (1 - smoothing), SMOOTHING_FLOOR))
            return (trained - log_weights - strength * log_prior).astype(np.float32)

        return shifted

    def strength(self, prior: str) -> float:
        """How much of ``log pi`` operating point ``prior`` takes out of the data point's logits: 0
        for ``data``, 1 for ``balanced``, the stored strength for ``tuned`` (0 for a model that
        stores none: its tuned point is its data point)."""
        check_choice(prior, PRIORS, "prior")
        if prior == "tuned":
            return 0.0 if self.tuned_strength is None else float(self.tuned_strength)
        return 1.0 if prior == "balanced" else 0.0

    def temperature_for(self, tta: str, prior: str) -> float:
        """The temperature fitted for ``tta`` at operating point ``prior``; the point's plain one
        (or the ``data`` point's, for a point never fitted) where that TTA was not fitted."""
        fitted = {"balanced": self.balanced_tta_temperatures, "tuned": self.tuned_tta_temperatures}.get(prior)
        if fitted:
            return float(fitted.get(tta, fitted.get("none", 1.0)))
        return float(self.tta_temperatures.get(tta, self.temperature))

    def with_fitted(self, prior: str, by_tta: Mapping[str, float]) -> OutputCalibration:
        """A copy with the temperatures of operating point ``prior`` replaced by ``by_tta``."""
        by_tta = {k: float(v) for k, v in by_tta.items()}
        if prior == "balanced":
            return replace(self, balanced_tta_temperatures=by_tta)
        if prior == "tuned":
            return replace(self, tuned_tta_temperatures=by_tta)
        return replace(self, temperature=by_tta.get("none", self.temperature), tta_temperatures=by_tta)


def _float_or_none(value: Any) -> float | None:
    """A stored number as a float (None stays None)."""
    return None if value is None else float(value)


def _floats(values: Any) -> tuple[float, ...] | None:
    """A stored list of floats as a tuple (None stays None)."""
    return None if values is None else tuple(float(v) for v in values)
