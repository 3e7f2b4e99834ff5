"""Static INT8 quantization of an exported model (research layer: it needs ``onnx``).

`quantize_onnx` turns a float32 ONNX file written by `ferlab.models.onnx_export.export_onnx` into
one whose convolutions and matrix products run in 8-bit integers on ONNX Runtime
(``onnxruntime.quantization.quantize_static``, QDQ format): weights int8 per output channel,
activations uint8 with ranges (min-max) measured on calibration crops, which should be faces like
the ones the model will see (a sample of its training images; `calibration_crops`). The file keeps
the source's metadata (classes, preprocessing, prior, temperatures: they were fitted on the
float32 model) and adds ``ferlab.quantization``, so `ferlab.app.onnx_runtime.OnnxClassifier` runs
it as it is, with no torch.

Measured on this project's 2-core CPU (``python bench/int8_speed.py``, results/int8_speed*.txt):
a batch of 64 faces runs 1.9x (the 591k-parameter network of ferlab-ferplus) to 3.0x (one of twice
its widths, the current ferlab-wild) faster than in float32, with nearly every FERPlus val
decision unchanged. The gain depends on the CPU: ONNX
Runtime's 8-bit kernels are fastest with AVX512-VNNI (this VM has it) and gain less on AVX2 alone.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from ferlab.app.onnx_runtime import OnnxClassifier
from ferlab.data.dataset import FaceDataset
from ferlab.data.labels import class_mapping
from ferlab.errors import FerlabError, ModelError, first_line
from ferlab.models.onnx_export import INPUT
from ferlab.preprocess import Preprocessing, model_inputs

CALIBRATION_IMAGES = 512
"""Calibration crops used unless told otherwise (`ferlab export --calibration-images`)."""
QUANTIZATION_KEY = "ferlab.quantization"
"""The metadata key that marks (and describes) a quantized export."""


def calibration_crops(reader: str, root: Path, reader_options: dict, count: int = CALIBRATION_IMAGES) -> np.ndarray:
    """``count`` images (fewer if there are fewer) drawn at random, with a fixed seed, from a dataset's
    training split (a folder without split folders: all of it), as uint8 crops."""
    from ferlab.data import load_dataset
    from ferlab.data.dataset import SplitUnavailable

    if count < 1:
        raise FerlabError(f"calibration needs at least one image, got {count}")
    try:
        images = load_dataset(reader, root, "train", **reader_options).images
    except SplitUnavailable:
        images = load_dataset(reader, root, "all", **reader_options).images
    chosen = np.random.default_rng(0).permutation(len(images))[:count]
    return images[np.sort(chosen)]


def decisions(classifier: OnnxClassifier, dataset: FaceDataset) -> np.ndarray:
    """The classifier's decisions on ``dataset``'s images as indices into the dataset's classes (a
    7-class FER2013 model on FERPlus never says contempt): what a float32 graph and its
    quantization are compared by."""
    return class_mapping(classifier.classes, dataset.classes)[classifier.predict_proba(dataset.images).argmax(1)]


class _Batches(CalibrationDataReader):
    """The calibration inputs, one batch a call, as ``quantize_static`` reads them."""

    def __init__(self, batches: list[np.ndarray]) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {INPUT: batch}


def quantize_onnx(source: Path, out: Path, crops: np.ndarray, batch_size: int = 64) -> Path:
    """Write the static INT8 quantization of the ferlab ONNX file ``source`` to ``out``
    (atomically; its folder is created), calibrated on uint8 ``crops``. Returns ``out``."""
    if len(crops) == 0:
        raise FerlabError("INT8 quantization needs calibration crops; got none")
    try:
        metadata = {p.key: p.value for p in onnx.load(str(source), load_external_data=False).metadata_props}
    except Exception as error:  # onnx.load raises OSError, protobuf's DecodeError and others
        raise ModelError(f"{source}: not a readable ONNX model: {first_line(error)}") from None
    if "ferlab.input_size" not in metadata:
        raise ModelError(f"{source}: not a ferlab export (no ferlab.input_size metadata)")
    if QUANTIZATION_KEY in metadata:
        raise ModelError(f"{source}: already quantized ({metadata[QUANTIZATION_KEY]})")
    preprocessing = Preprocessing.from_metadata(metadata)
    batches = [model_inputs(crops[i : i + batch_size], preprocessing) for i in range(0, len(crops), batch_size)]
    with tempfile.TemporaryDirectory() as scratch:
        prepared, quantized = Path(scratch) / "prepared.onnx", Path(scratch) / "int8.onnx"
        quant_pre_process(str(source), str(prepared))
        quantize_static(
            str(prepared),
            str(quantized),
            _Batches(batches),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
        )
        model = onnx.load(str(quantized))
    metadata[QUANTIZATION_KEY] = (
        f"int8, static (onnxruntime.quantization, QDQ): int8 weights per channel, uint8 activations "
        f"with min-max ranges from {len(crops)} calibration crops"
    )
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, metadata)
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(model, str(temp))
        os.replace(temp, out)
    except OSError as error:
        raise FerlabError(f"{out}: cannot write the ONNX file: {error.strerror or error}") from None
    finally:
        temp.unlink(missing_ok=True)
    return out
