"""ONNX export of ferlab models, and `OnnxClassifier`: the face classifier on ONNX Runtime.

`export_onnx` writes a shipped model, run folder or model file as one ONNX file with
torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``; needs ``onnxscript`` and
``onnx``: ``pip install "ferlab[onnx]"``). The graph takes ``input``, float32
``(N, C, H, W)`` already normalised as in `ferlab.data.transforms` (N is dynamic), and
returns ``logits`` ``(N, classes)``. Its ``metadata_props`` hold what a runtime needs:
``ferlab.model`` (registry name), ``ferlab.classes`` (JSON list, output order),
``ferlab.input_size`` (JSON ``[C, H, W]``), ``ferlab.temperature`` (divide the logits by
it before the softmax), ``ferlab.tta_temperatures`` (JSON object: the temperature fitted
with each TTA mode, where the model stores them) and ``ferlab.version``.

Every registry model exports at its default input size (torch 2.14.1, onnxscript 0.7.2,
onnxruntime 1.32; ``pytest tests/app/test_app_onnx.py -m slow`` compares ONNX Runtime with
PyTorch): lenet_like, vgg_like, resnet_like, deep_emotion (its spatial transformer's
``affine_grid`` becomes arithmetic on a constant grid, ``grid_sample`` ONNX ``GridSample``),
resnet18, resnet34, resnet50, vgg16, inception_resnet_v1, attention_net and ran (its fixed
region crops become ``Slice`` and ``Resize`` with sizes fixed at export). The legacy
TorchScript exporter (``dynamo=False``, deprecated) fails on ``ran``, whose crop boxes
``round()`` traced shapes; that is why the dynamo exporter is used. A model that cannot be
exported gives a `ModelError` naming it and the exporter's reason.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import numpy as np
import torch

import ferlab
from ferlab.app.classifier import CropClassifier, ready_onnx, resolve_model, tta_temperature
from ferlab.data.cache import cache_dir, cache_enabled
from ferlab.data.transforms import tta_views
from ferlab.engine.checkpoint import load_model, model_file
from ferlab.errors import FerlabError, ModelError
from ferlab.evaluate.predict import sized_inputs

if TYPE_CHECKING:
    import onnxruntime

DEFAULT_OPSET = 20
"""ONNX opset written unless told otherwise (torch 2.14's default; ONNX Runtime >= 1.17 runs it)."""
OPSETS = range(18, 24)
"""Opsets accepted: 18 (the dynamo exporter's own) to torch 2.14's maximum, 23. Lower ones
need a down-conversion that fails for some graphs, and the exporter then silently keeps 18."""
EXPORT_KIND = "ferlab-onnx-v2"
"""Version of the export recipe; part of the cache key of exported models."""
INPUT, OUTPUT = "input", "logits"


def _missing_extra(what: str) -> FerlabError:
    return FerlabError(f'{what} needs its optional packages: pip install "ferlab[onnx]"')


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _write_error(out: Path, error: OSError) -> FerlabError:
    return FerlabError(f"{out}: cannot write the ONNX file: {error.strerror or error}")


def export_onnx(model: str | Path, out: Path, opset: Optional[int] = None) -> Path:
    """Export a shipped model name, run folder or model file to the ONNX file ``out``.

    The file is written atomically; its folder is created. ``opset`` defaults to
    `DEFAULT_OPSET` and must be in `OPSETS`. Returns ``out``.
    """
    opset = DEFAULT_OPSET if opset is None else opset
    if opset not in OPSETS:
        raise FerlabError(f"opset {opset} is not supported: expected {OPSETS.start} to {OPSETS.stop - 1}")
    if importlib.util.find_spec("onnxscript") is None:
        raise _missing_extra("ONNX export")
    network, record = load_model(resolve_model(model))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise _write_error(out, error) from None
    try:
        program = torch.onnx.export(
            network, (torch.zeros(2, *network.input_size),), None, dynamo=True, verbose=False,
            input_names=[INPUT], output_names=[OUTPUT], opset_version=opset,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    except Exception as error:  # the exporter raises many types; any of them means "cannot export"
        raise ModelError(f"model {record['model']!r} cannot be exported to ONNX: {_first_line(error)}") from None
    program.model.metadata_props.update({
        "ferlab.model": record["model"], "ferlab.classes": json.dumps(list(record["classes"])),
        "ferlab.input_size": json.dumps(list(network.input_size)),
        "ferlab.temperature": repr(float(record.get("temperature", 1.0))),
        "ferlab.tta_temperatures": json.dumps({k: float(v) for k, v in record.get("tta_temperatures", {}).items()}),
        "ferlab.version": ferlab.__version__,
    })
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        program.save(temp, external_data=False)
        os.replace(temp, out)
    except OSError as error:
        raise _write_error(out, error) from None
    finally:
        temp.unlink(missing_ok=True)
    return out


def cached_export(model: str | Path) -> Path:
    """The ONNX export of a shipped model, run folder or model file in the user cache dir.

    Exported on first use; the file name holds a hash of the weights file's content, the
    opset and `EXPORT_KIND`, so retrained weights get a fresh export.
    """
    weights = model_file(resolve_model(model))
    digest = hashlib.blake2b(f"{EXPORT_KIND}|{DEFAULT_OPSET}|".encode(), digest_size=16)
    try:
        with weights.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    except OSError as error:
        raise ModelError(f"{weights}: cannot read the model file: {error.strerror or error}") from None
    target = cache_dir() / "onnx" / f"{weights.stem}-{digest.hexdigest()}.onnx"
    return target if target.is_file() else export_onnx(weights, target)


class OnnxClassifier(CropClassifier):
    """The ONNX Runtime backend (CPU) of `CropClassifier`, for files written by `export_onnx`.

    Crops are preprocessed exactly as for PyTorch (`ferlab.evaluate.predict.sized_inputs`);
    classes, input size and temperature come from the file's metadata (exports older than
    ``ferlab.tta_temperatures`` use the plain temperature with every TTA mode).
    """

    backend = "onnx"

    def __init__(self, session: "onnxruntime.InferenceSession", name: str, tta: str = "none") -> None:
        meta = session.get_modelmeta().custom_metadata_map
        try:
            classes, input_size = json.loads(meta["ferlab.classes"]), json.loads(meta["ferlab.input_size"])
            by_tta = json.loads(meta.get("ferlab.tta_temperatures", "{}"))
            temperature = tta_temperature(float(meta["ferlab.temperature"]), by_tta, tta)
        except (KeyError, ValueError, AttributeError):
            raise ModelError(f"{name}: not a ferlab ONNX export (no ferlab metadata; write one with "
                             "`ferlab export`)") from None
        super().__init__(tuple(classes), name, temperature, tuple(input_size), tta)
        self.session = session

    @classmethod
    def load(cls, path: str | Path, name: Optional[str] = None, tta: str = "none") -> "OnnxClassifier":
        """Open an ONNX file written by `export_onnx`; ``name`` defaults to its path."""
        try:
            import onnxruntime
            from onnxruntime.capi import onnxruntime_pybind11_state as ort_errors
        except ImportError:
            raise _missing_extra("the onnx backend") from None
        if not Path(path).is_file():
            raise ModelError(f"{path}: no such ONNX file")
        try:
            session = onnxruntime.InferenceSession(str(path), session_options(), providers=["CPUExecutionProvider"])
        except (ort_errors.Fail, ort_errors.InvalidProtobuf, ort_errors.InvalidGraph, ort_errors.InvalidArgument,
                ort_errors.NotImplemented, ort_errors.RuntimeException) as error:
            raise ModelError(f"{path}: not a readable ONNX model: {_first_line(error)}") from None
        return cls(session, str(path) if name is None else name, tta)

    @classmethod
    def from_model(cls, model: str | Path, tta: str = "none") -> "OnnxClassifier":
        """A ``.onnx`` file as it is; a shipped model from its bundled export (`ferlab.weights.shipped_onnx`);
        any other shipped model name, run folder or model file via `cached_export`.

        With the cache disabled (``FERLAB_NO_CACHE``), the export goes to a temporary folder.
        """
        ready = ready_onnx(model)
        if ready is not None:
            return cls.load(ready, None if ready == Path(model) else str(model), tta)
        if cache_enabled():
            return cls.load(cached_export(model), str(model), tta)
        with tempfile.TemporaryDirectory() as folder:
            return cls.load(export_onnx(model, Path(folder) / "model.onnx"), str(model), tta)

    def logits(self, crops: np.ndarray, batch_size: int) -> torch.Tensor:
        """ONNX Runtime's logits for uint8 crops, ``batch_size`` at a time, averaged over the TTA views."""
        batches = (sized_inputs(crops[i:i + batch_size], self.input_size) for i in range(0, len(crops), batch_size))
        return torch.from_numpy(np.concatenate([self._view_mean(x) for x in batches]))

    def _view_mean(self, x: torch.Tensor) -> np.ndarray:
        """Mean logits of the TTA views of one batch of model inputs."""
        if self.tta == "none":  # no torch op: its OpenMP threads would spin beside ONNX Runtime's
            return self.session.run([OUTPUT], {INPUT: x.numpy()})[0]
        views = np.concatenate([view.numpy() for view in tta_views(x, self.tta)])  # one run for all views
        logits = self.session.run([OUTPUT], {INPUT: views})[0]
        return logits.reshape(-1, len(x), logits.shape[-1]).mean(axis=0)


def session_options() -> "onnxruntime.SessionOptions":
    """CPU session settings, measured on the shipped model (2-core CPU, busy with a training job).

    * ``ORT_ENABLE_ALL`` graph optimisations (fusions, layout changes): 1.5x the faces/s of
      ``ORT_ENABLE_BASIC`` or none, at batch 1 and 64.
    * as many intra-op threads as torch uses (`torch.set_num_threads` tunes both backends);
    * no spinning of idle threads: they would take CPU from the detector and the video
      decoder between calls; on the busy CPU, 2 spinning threads gave 360 faces/s at batch 1
      against 570 without spinning.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options
