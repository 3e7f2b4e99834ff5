"""Static INT8 quantization (`ferlab.models.quantize`, `ferlab export --int8`): the graph runs in
8 bits, the metadata survives, the decisions on real faces stay, bad input is a one-line error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from ferlab.app.onnx_runtime import OnnxClassifier
from ferlab.errors import ModelError
from ferlab.models.quantize import QUANTIZATION_KEY, quantize_onnx
from ferlab.weights import DEFAULT_MODEL, shipped_onnx


def _metadata(path: Path) -> dict[str, str]:
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


@pytest.fixture(scope="module")
def float32() -> Path:
    """A shipped model's bundled float32 export (ferlab-wild's bundle is already INT8)."""
    return shipped_onnx("ferlab-ferplus")


@pytest.fixture(scope="module")
def random_int8(float32: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """That model quantized with random crops as calibration (enough for the plumbing)."""
    crops = np.random.default_rng(0).integers(0, 256, (40, 48, 48), np.uint8)
    return quantize_onnx(float32, tmp_path_factory.mktemp("int8") / "new" / "wild_int8.onnx", crops)


def test_the_graph_runs_in_eight_bits(float32: Path, random_int8: Path) -> None:
    ops = {node.op_type for node in onnx.load(str(random_int8)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    weights = [t for t in onnx.load(str(random_int8)).graph.initializer if t.data_type == TensorProto.INT8]
    assert weights, "no int8 weights"
    assert random_int8.stat().st_size < 0.4 * float32.stat().st_size


def test_metadata_is_kept_and_marked(float32: Path, random_int8: Path) -> None:
    source, quantized = _metadata(float32), _metadata(random_int8)
    assert {k: quantized[k] for k in source} == source
    assert "40 calibration crops" in quantized[QUANTIZATION_KEY]
    classifier, reference = OnnxClassifier.load(random_int8), OnnxClassifier.load(float32)
    assert classifier.classes == reference.classes
    probabilities = classifier.predict_proba(np.full((3, 48, 48), 128, np.uint8))
    assert probabilities.shape == (3, len(reference.classes))
    assert np.allclose(probabilities.sum(1), 1, atol=1e-5)


def test_decisions_on_real_faces_stay(float32: Path, read_fer2013_faces, tmp_path: Path) -> None:
    """Calibrated on 256 FER2013 training faces, ferlab-ferplus decides 512 PrivateTest faces
    as in float32 for at least 97% of them (measured 99.6%, 2026-12-05), its probabilities within
    0.01 on average (measured 0.0018)."""
    int8 = quantize_onnx(float32, tmp_path / "int8.onnx", read_fer2013_faces("Training", 256))
    test = read_fer2013_faces("PrivateTest", 512)
    expected, found = OnnxClassifier.load(float32).predict_proba(test), OnnxClassifier.load(int8).predict_proba(test)
    assert (found.argmax(1) == expected.argmax(1)).mean() >= 0.97
    assert np.abs(found - expected).mean() < 0.01


def test_refusals_name_the_file(random_int8: Path, tmp_path: Path) -> None:
    crops = np.zeros((4, 48, 48), np.uint8)
    with pytest.raises(ModelError, match="already quantized"):
        quantize_onnx(random_int8, tmp_path / "again.onnx", crops)
    plain = tmp_path / "plain.onnx"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["input"], ["logits"])],
        "plain",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 7])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, 7])],
    )
    onnx.save(helper.make_model(graph), str(plain))
    with pytest.raises(ModelError, match=f"{plain}: not a ferlab export"):
        quantize_onnx(plain, tmp_path / "out.onnx", crops)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(ModelError, match=f"{garbage}: not a readable ONNX model"):
        quantize_onnx(garbage, tmp_path / "out.onnx", crops)
    assert not (tmp_path / "out.onnx").exists()


def test_cli_export_int8(run_ferlab, assert_one_line_error, make_folder_tree, tmp_path: Path) -> None:
    root = make_folder_tree({"happy": 3, "sad": 3})
    out = tmp_path / "int8.onnx"
    result = run_ferlab("export", DEFAULT_MODEL, "--onnx", str(out), "--int8", "--data-root", str(root))
    assert result.returncode == 0, result.stderr
    assert "6 calibration crops" in _metadata(out)[QUANTIZATION_KEY]
    assert_one_line_error(
        run_ferlab("export", DEFAULT_MODEL, "--onnx", str(tmp_path / "x.onnx"), "--int8"), "--int8 needs --data-root"
    )
    assert not (tmp_path / "x.onnx").exists()
