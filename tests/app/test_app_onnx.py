"""ONNX export (`ferlab export`) and the ONNX Runtime backend (`--backend onnx`): the same
probabilities as PyTorch, a dynamic batch, the metadata, one-line errors.

The default run exports the shipped model and a small lenet_like; ``-m slow`` exports
every registry model."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

import ferlab
from ferlab.app.classifier import load_classifier, resolve_backend
from ferlab.app.demo import ASTRONAUT
from ferlab.app.onnx_runtime import OnnxClassifier
from ferlab.app.torch_backend import ExpressionClassifier
from ferlab.cli import main
from ferlab.data.cache import cache_dir
from ferlab.data.labels import FER2013_CLASSES
from ferlab.engine.checkpoint import model_record, save_atomically
from ferlab.models import create_model, list_models
from ferlab.models.onnx_export import cached_export, export_onnx
from ferlab.models.quantize import QUANTIZATION_KEY
from ferlab.preprocess import model_inputs
from ferlab.weights import list_shipped, shipped_onnx

TOLERANCE = 1e-4
"""Largest difference allowed between ONNX Runtime's and PyTorch's probabilities."""


def _model_file(path: Path, name: str, temperature: float = 1.0) -> Path:
    """A randomly initialised registry model saved as a ferlab model file."""
    torch.manual_seed(0)
    record = model_record(create_model(name, num_classes=7), name, {}, FER2013_CLASSES)
    record["temperature"] = temperature
    save_atomically(record, path)
    return path


def _run(argv: list[str]) -> int:
    """`ferlab.cli.main` on ``argv``; its exit code."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    return exit_info.value.code


@pytest.fixture(scope="module")
def lenet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _model_file(tmp_path_factory.mktemp("lenet") / "lenet.pt", "lenet_like", temperature=1.7)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, lenet_file: Path) -> dict[str, Path]:
    """The shipped model and the lenet file, each with its ONNX export (the lenet's by
    `ferlab export` at opset 18, into a folder that does not exist yet)."""
    folder = tmp_path_factory.mktemp("onnx")
    lenet = folder / "new" / "folder" / "lenet.onnx"
    assert _run(["export", str(lenet_file), "--onnx", str(lenet), "--opset", "18"]) == 0
    return {"ferlab-ferplus": export_onnx("ferlab-ferplus", folder / "ferplus.onnx"), str(lenet_file): lenet}


@pytest.fixture(scope="module")
def fer2013_faces(read_fer2013_faces) -> np.ndarray:
    """The first 64 PrivateTest (test split) faces of fer2013.csv.gz."""
    return read_fer2013_faces("PrivateTest", 64)


@pytest.mark.parametrize("faces", ["fer2013", "random"])
@pytest.mark.parametrize("model", ["ferlab-ferplus", "lenet"])
def test_onnx_probabilities_match_torch(
    model: str, faces: str, exported: dict[str, Path], lenet_file: Path, request: pytest.FixtureRequest
) -> None:
    source = str(lenet_file) if model == "lenet" else model
    rng = np.random.default_rng(1)
    # random: gray crops at another size and colour crops, so resizing and gray conversion are checked too
    batches = (
        [request.getfixturevalue("fer2013_faces")]
        if faces == "fer2013"
        else [rng.integers(0, 256, (20, 60, 60), np.uint8), rng.integers(0, 256, (20, 48, 48, 3), np.uint8)]
    )
    onnx_model, torch_model = OnnxClassifier.load(exported[source]), ExpressionClassifier.load(source)
    for crops in batches:
        expected, found = torch_model.predict_proba(crops), onnx_model.predict_proba(crops, batch_size=16)
        assert np.abs(found - expected).max() < TOLERANCE
        assert (found.argmax(1) == expected.argmax(1)).all()


def test_batch_axis_is_dynamic(exported: dict[str, Path]) -> None:
    classifier = OnnxClassifier.load(exported["ferlab-ferplus"])
    assert isinstance(classifier.session.get_inputs()[0].shape[0], str)
    crops = np.random.default_rng(2).integers(0, 256, (37, 48, 48), np.uint8)
    inputs = model_inputs(crops, classifier.preprocessing)
    for batch in (1, 37):
        (logits,) = classifier.session.run(["logits"], {"input": inputs[:batch]})
        assert logits.shape == (batch, len(classifier.classes))
    assert np.allclose(classifier.session.run(["logits"], {"input": inputs[:1]})[0], logits[:1], atol=1e-5)


def test_metadata_round_trips(exported: dict[str, Path], lenet_file: Path) -> None:
    path = exported[str(lenet_file)]
    meta = {prop.key: prop.value for prop in onnx.load(path).metadata_props}
    assert meta["ferlab.model"] == "lenet_like" and meta["ferlab.version"] == ferlab.__version__
    assert json.loads(meta["ferlab.classes"]) == list(FER2013_CLASSES)
    classifier, reference = OnnxClassifier.load(path), ExpressionClassifier.load(lenet_file)
    assert classifier.name == str(path)
    for attribute in ("classes", "input_size", "temperature", "grayscale"):
        assert getattr(classifier, attribute) == getattr(reference, attribute)
    assert classifier.temperature == 1.7
    shipped = OnnxClassifier.load(exported["ferlab-ferplus"])
    assert "happy" in shipped.classes and "happiness" not in shipped.classes  # canonical words


def test_cli_export_creates_the_folder(exported: dict[str, Path], lenet_file: Path) -> None:
    out = exported[str(lenet_file)]
    assert [entry.version for entry in onnx.load(out).opset_import if entry.domain == ""] == [18]
    assert [p.name for p in out.parent.iterdir()] == ["lenet.onnx"]  # no temp file left


def test_backend_exports_once_to_the_cache(lenet_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = load_classifier(lenet_file, backend="onnx")
    assert isinstance(first, OnnxClassifier) and first.name == str(lenet_file)
    cached = cached_export(lenet_file)
    assert cached.parent == cache_dir() / "onnx" and cached.name.startswith("lenet-")
    monkeypatch.setattr("ferlab.models.onnx_export.export_onnx", lambda *args: pytest.fail("exported twice"))
    assert load_classifier(lenet_file, backend="onnx").classes == first.classes


@pytest.mark.parametrize("name", list_shipped())
def test_shipped_models_bundle_their_onnx_export(
    name: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """The bundled graph is the shipped weights' export: the same probabilities (within
    `TOLERANCE`) on random crops, or, for an INT8 bundle (`tools/ship_model.py --int8`), the same
    decision on at least 99% of 512 real FER2013 PrivateTest faces with probabilities within 0.01 on
    average (a stale bundle of other weights disagrees far more)."""
    monkeypatch.setattr("ferlab.models.onnx_export.export_onnx", lambda *args: pytest.fail("bundled, not exported"))
    bundled = load_classifier(name, backend="onnx")
    assert isinstance(bundled, OnnxClassifier) and Path(bundled.session._model_path) == shipped_onnx(name)
    reference = ExpressionClassifier.load(name)
    assert (bundled.classes, bundled.temperature) == (reference.classes, reference.temperature)
    stale = f"{shipped_onnx(name)} is stale: re-export it (tools/ship_model.py)"
    if QUANTIZATION_KEY in bundled.session.get_modelmeta().custom_metadata_map:
        faces = request.getfixturevalue("read_fer2013_faces")("PrivateTest", 512)
        expected, found = reference.predict_proba(faces), bundled.predict_proba(faces)
        assert (found.argmax(1) == expected.argmax(1)).mean() >= 0.99, stale
        assert np.abs(found - expected).mean() < 0.01, stale
        return
    crops = np.random.default_rng(1).integers(0, 256, (32, 48, 48), dtype=np.uint8)
    assert np.abs(bundled.predict_proba(crops) - reference.predict_proba(crops)).max() < TOLERANCE, stale


def test_auto_backend_prefers_onnx_runtime_where_it_can_run(lenet_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert resolve_backend("ferlab-ferplus") == "onnx"
    assert resolve_backend(lenet_file) == "onnx"  # exported once to the cache
    assert resolve_backend("ferlab-ferplus", "torch") == "torch"
    real_find_spec = importlib.util.find_spec
    missing: set[str] = set()
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name in missing else real_find_spec(name, *a)
    )
    missing.add("onnxscript")  # no exporter: only bundled graphs run on ONNX Runtime
    assert (resolve_backend("ferlab-ferplus"), resolve_backend(lenet_file)) == ("onnx", "torch")
    missing.add("torch")  # the light install: shipped models and .onnx files run, model files need the extra
    assert (resolve_backend("ferlab-ferplus"), resolve_backend(lenet_file)) == ("onnx", "onnx")
    assert isinstance(load_classifier("ferlab-ferplus"), OnnxClassifier)
    with pytest.raises(ferlab.FerlabError, match=r'runs with PyTorch .*pip install "ferlab\[train\]"'):
        load_classifier(lenet_file)


def test_without_cache_the_export_is_temporary(
    exported: dict[str, Path], lenet_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Path] = []

    def copy_export(model: Path, out: Path) -> Path:  # the real export is tested above
        written.append(Path(shutil.copyfile(exported[str(lenet_file)], out)))
        return out

    monkeypatch.setenv("FERLAB_NO_CACHE", "1")
    monkeypatch.setattr("ferlab.models.onnx_export.export_onnx", copy_export)
    classifier = load_classifier(lenet_file, backend="onnx")
    assert classifier.name == str(lenet_file) and classifier.temperature == 1.7
    assert len(written) == 1 and not written[0].exists()


def _predict_json(backend: str, out: Path, capsys: pytest.CaptureFixture[str]) -> dict:
    assert _run(["predict", str(ASTRONAUT), "--json", "--backend", backend, "--out", str(out)]) == 0
    return json.loads(capsys.readouterr().out)["images"][0]["faces"][0]


def test_cli_predict_onnx_backend_agrees_with_torch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    torch_face = _predict_json("torch", tmp_path / "torch", capsys)
    onnx_face = _predict_json("onnx", tmp_path / "onnx", capsys)
    assert onnx_face["label"] == torch_face["label"] == "happy"
    assert onnx_face["probabilities"] == pytest.approx(torch_face["probabilities"], abs=TOLERANCE)


def _plain_onnx(folder: Path) -> Path:
    """``plain.onnx``: a valid ONNX model (an Identity) without ferlab's metadata."""
    path = folder / "plain.onnx"
    value = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "plain",
        [value],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def _failing_exporter(*args, **kwargs):
    raise RuntimeError("unsupported operator\nmany more lines")


@pytest.mark.parametrize(
    "case, message",
    [
        ("unknown model", "no shipped model named 'nope'"),
        ("bad opset", "opset 9 is not supported: expected 18 to 23"),
        ("output under a file", "cannot write the ONNX file"),
        ("exporter fails", "model 'lenet_like' cannot be exported to ONNX: unsupported operator"),
        ("unknown backend", "unknown backend 'tensorrt': expected one of auto, torch, onnx"),
        ("missing onnx file", "missing.onnx: no such ONNX file"),
        ("not onnx", "fake.onnx: not a readable ONNX model"),
        ("onnx without metadata", "plain.onnx: not a ferlab ONNX export"),
        ("onnx on torch backend", "an ONNX file runs on ONNX Runtime only (predict, demo, video, serve and eval with"),
    ],
)
def test_bad_input_is_a_one_line_error(
    case: str,
    message: str,
    lenet_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "a-file").write_text("")
    (tmp_path / "fake.onnx").write_text("not a protobuf")
    predict = ["predict", str(ASTRONAUT), "--out", str(tmp_path / "out")]
    if case == "exporter fails":
        monkeypatch.setattr(torch.onnx, "export", _failing_exporter)
    argv = {
        "unknown model": ["export", "nope", "--onnx", str(tmp_path / "m.onnx")],
        "bad opset": ["export", str(lenet_file), "--onnx", str(tmp_path / "m.onnx"), "--opset", "9"],
        "output under a file": ["export", str(lenet_file), "--onnx", str(tmp_path / "a-file" / "m.onnx")],
        "exporter fails": ["export", str(lenet_file), "--onnx", str(tmp_path / "m.onnx")],
        "unknown backend": [*predict, "--backend", "tensorrt"],
        "missing onnx file": [*predict, "--backend", "onnx", "--model", str(tmp_path / "missing.onnx")],
        "not onnx": [*predict, "--backend", "onnx", "--model", str(tmp_path / "fake.onnx")],
        "onnx without metadata": [*predict, "--backend", "onnx", "--model", str(_plain_onnx(tmp_path))],
        "onnx on torch backend": [*predict, "--backend", "torch", "--model", str(tmp_path / "fake.onnx")],
    }[case]
    assert _run(argv) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1, error


@pytest.mark.slow
@pytest.mark.parametrize("name", list_models())
def test_every_registry_model_exports(name: str, tmp_path: Path) -> None:
    source = _model_file(tmp_path / f"{name}.pt", name)
    onnx_model, torch_model = (
        OnnxClassifier.load(export_onnx(source, tmp_path / f"{name}.onnx")),
        ExpressionClassifier.load(source),
    )
    _, height, width = torch_model.input_size
    crops = np.random.default_rng(3).integers(0, 256, (3, height, width), np.uint8)
    expected = torch_model.logits(crops, 8).numpy()
    assert np.abs(onnx_model.logits(crops, 2).numpy() - expected).max() < TOLERANCE * max(1.0, np.abs(expected).max())
    assert np.abs(onnx_model.predict_proba(crops) - torch_model.predict_proba(crops)).max() < TOLERANCE
