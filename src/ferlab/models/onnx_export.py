"""ONNX export of ferlab models (research layer; the runtime is `ferlab.app.onnx_runtime`).

`export_onnx` writes a shipped model, run folder or model file as one ONNX file with
torch's dynamo exporter (``torch.onnx.export(..., dynamo=True)``; needs ``onnxscript`` and
``onnx``: ``pip install "ferlab[onnx]"``). The graph takes ``input``, float32
``(N, C, H, W)`` already normalised as in `ferlab.data.transforms` (N is dynamic), and
returns ``logits`` ``(N, classes)``. Its ``metadata_props`` hold everything needed to use
it outside ferlab (`onnx_metadata`): ``ferlab.model`` (registry name), ``ferlab.classes``
(JSON list, output order), the preprocessing (``ferlab.input_size`` JSON ``[C, H, W]``,
``ferlab.layout`` ``NCHW``, ``ferlab.channels`` ``gray`` or ``rgb``, ``ferlab.mean``,
``ferlab.std``, ``ferlab.crop_margin``; see `ferlab.preprocess.Preprocessing`),
how logits become probabilities (``ferlab.temperature``, ``ferlab.tta_temperatures``,
``ferlab.balanced_tta_temperatures``, ``ferlab.class_prior``, ``ferlab.logit_adjustment``;
see `ferlab.priors.OutputCalibration`: add its offsets for the operating point to the
logits, then divide by its temperature before the softmax), ``ferlab.tta`` (how the TTA
views are made) and ``ferlab.version``.

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
from pathlib import Path
from typing import Any

import torch

from ferlab.data.cache import cache_dir
from ferlab.errors import FerlabError, ModelError, first_line
from ferlab.models.files import load_model, model_file
from ferlab.preprocess import TTA_MODES, Preprocessing
from ferlab.priors import OutputCalibration
from ferlab.version import package_version
from ferlab.weights import resolve_model

DEFAULT_OPSET = 20
"""ONNX opset written unless told otherwise (torch 2.14's default; ONNX Runtime >= 1.17 runs it)."""
OPSETS = range(18, 24)
"""Opsets accepted: 18 (the dynamo exporter's own) to torch 2.14's maximum, 23. Lower ones
need a down-conversion that fails for some graphs, and the exporter then silently keeps 18."""
EXPORT_KIND = "ferlab-onnx-v3"
"""Version of the export recipe; part of the cache key of exported models."""
INPUT, OUTPUT = "input", "logits"


def _missing_extra(what: str) -> FerlabError:
    return FerlabError(f'{what} needs its optional packages: pip install "ferlab[onnx]"')


def _write_error(out: Path, error: OSError) -> FerlabError:
    return FerlabError(f"{out}: cannot write the ONNX file: {error.strerror or error}")


def export_onnx(model: str | Path, out: Path, opset: int | None = None) -> Path:
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
            network,
            (torch.zeros(2, *network.input_size),),
            None,
            dynamo=True,
            verbose=False,
            input_names=[INPUT],
            output_names=[OUTPUT],
            opset_version=opset,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
    except Exception as error:  # the exporter raises many types; any of them means "cannot export"
        raise ModelError(f"model {record['model']!r} cannot be exported to ONNX: {first_line(error)}") from None
    program.model.metadata_props.update(onnx_metadata(record, network.preprocessing))
    temp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        program.save(temp, external_data=False)
        os.replace(temp, out)
    except OSError as error:
        raise _write_error(out, error) from None
    finally:
        temp.unlink(missing_ok=True)
    return out


def onnx_metadata(record: dict[str, Any], preprocessing: Preprocessing) -> dict[str, str]:
    """The ``metadata_props`` of a model's ONNX file (see the module docstring)."""
    return {
        "ferlab.model": record["model"],
        "ferlab.classes": json.dumps(list(record["classes"])),
        **preprocessing.to_metadata(),
        **OutputCalibration.from_record(record).to_metadata(),
        "ferlab.tta": f"average the logits over the views of ferlab.preprocess.tta_views: {', '.join(TTA_MODES)}; "
        f"tencrop pads 4 pixels (reflect) and takes 4 corner and 1 centre crop, each with its mirror",
        "ferlab.version": package_version(),
    }


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
