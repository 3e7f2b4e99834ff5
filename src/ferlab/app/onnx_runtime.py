"""`OnnxClassifier`: the face classifier on ONNX Runtime (CPU), torch-free.

It runs ``.onnx`` files written by `ferlab.models.onnx_export.export_onnx` (and the bundled
exports of the shipped models): classes, preprocessing and temperatures come from the
file's metadata, crops are turned into inputs by `ferlab.preprocess.model_inputs`, and the
test-time views by `ferlab.preprocess.tta_views`, as for the PyTorch backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ferlab.app.crop_classifier import CropClassifier
from ferlab.errors import FerlabError, ModelError, first_line
from ferlab.preprocess import Preprocessing, model_inputs, tta_views
from ferlab.priors import DEFAULT_PRIOR, OutputCalibration

if TYPE_CHECKING:
    import onnxruntime

INPUT, OUTPUT = "input", "logits"


class OnnxClassifier(CropClassifier):
    """The ONNX Runtime backend (CPU) of `CropClassifier`, for files written by `export_onnx`.

    Crops are preprocessed exactly as for PyTorch (`ferlab.preprocess.model_inputs`);
    classes, preprocessing, temperatures and training class prior come from the file's metadata
    (`ferlab.priors.OutputCalibration.from_metadata`; exports older than ``ferlab.tta_temperatures``
    use the plain temperature with every TTA mode, those without ``ferlab.class_prior`` have only
    the ``data`` operating point, and those without ``ferlab.mean`` etc. the default preprocessing).
    """

    backend = "onnx"

    def __init__(
        self, session: onnxruntime.InferenceSession, name: str, tta: str = "none", prior: str = DEFAULT_PRIOR
    ) -> None:
        meta = session.get_modelmeta().custom_metadata_map
        try:
            classes, preprocessing = json.loads(meta["ferlab.classes"]), Preprocessing.from_metadata(meta)
            calibration = OutputCalibration.from_metadata(meta)
        except (KeyError, ValueError, AttributeError, TypeError):
            raise ModelError(
                f"{name}: not a ferlab ONNX export (no ferlab metadata; write one with `ferlab export`)"
            ) from None
        super().__init__(tuple(classes), name, calibration, preprocessing, tta, prior)
        self.session = session

    @classmethod
    def load(
        cls, path: str | Path, name: str | None = None, tta: str = "none", prior: str = DEFAULT_PRIOR
    ) -> OnnxClassifier:
        """Open an ONNX file written by `export_onnx`; ``name`` defaults to its path."""
        try:
            import onnxruntime
            from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
        except ImportError:
            raise FerlabError("the onnx backend needs onnxruntime: pip install onnxruntime") from None
        if not Path(path).is_file():
            raise ModelError(f"{path}: no such ONNX file")
        try:
            session = onnxruntime.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
        except (
            ort_errors.Fail,
            ort_errors.InvalidProtobuf,
            ort_errors.InvalidGraph,
            ort_errors.InvalidArgument,
            ort_errors.NotImplemented,
            ort_errors.RuntimeException,
        ) as error:
            raise ModelError(f"{path}: not a readable ONNX model: {first_line(error)}") from None
        return cls(session, str(path) if name is None else name, tta, prior)

    def logits(self, crops: np.ndarray, batch_size: int) -> np.ndarray:
        """ONNX Runtime's logits for uint8 crops, ``batch_size`` at a time, averaged over the TTA views."""
        batches = (
            model_inputs(crops[i : i + batch_size], self.preprocessing) for i in range(0, len(crops), batch_size)
        )
        return np.concatenate([self._view_mean(x) for x in batches])

    def _view_mean(self, x: np.ndarray) -> np.ndarray:
        """Mean logits of the TTA views of one batch of model inputs (one session run for all views)."""
        views = tta_views(x, self.tta)
        logits = self.session.run([OUTPUT], {INPUT: np.concatenate(views) if len(views) > 1 else x})[0]
        return logits.reshape(len(views), len(x), logits.shape[-1]).mean(axis=0)


def session_options() -> onnxruntime.SessionOptions:
    """CPU session settings, measured on the shipped model (2-core CPU, busy with a training job).

    * ``ORT_ENABLE_ALL`` graph optimisations (fusions, layout changes): 1.5x the faces/s of
      ``ORT_ENABLE_BASIC`` or none, at batch 1 and 64.
    * intra-op threads: ``FERLAB_THREADS`` when set, else ONNX Runtime's default (one per
      physical core);
    * no spinning of idle threads: they would take CPU from the detector and the video
      decoder between calls; on the busy CPU, 2 spinning threads gave 360 faces/s at batch 1
      against 570 without spinning.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = int(os.environ.get("FERLAB_THREADS", "0"))
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options
