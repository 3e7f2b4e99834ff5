"""The photo pipeline: `ferlab.analyze`, `FaceAnalyzer`, `ferlab predict` and `ferlab demo`,
on real image files written to disk, with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from skimage import data
from typer.testing import CliRunner

import ferlab
from ferlab.app import FaceAnalyzer
from ferlab.app.analyze import load_rgb
from ferlab.app.demo import ASTRONAUT
from ferlab.app.predict import predict_images
from ferlab.app.torch_backend import ExpressionClassifier
from ferlab.cli import app
from ferlab.errors import FerlabError, ModelError
from ferlab.faces import DEFAULT_DETECTOR
from ferlab.weights import list_shipped

ASTRONAUT_FACE = (178.0, 74.0, 270.0, 176.0)  # measured by eye, see tests/faces/conftest.py


def _iou(a, b) -> float:
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer()


@pytest.fixture()
def photo_folder(tmp_path: Path) -> Path:
    """Two readable photos with a face, one without, a corrupt JPEG and a text file."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "astronaut.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(
        str(folder / "sub" / "astronaut_small.png"),
        cv2.cvtColor(cv2.resize(data.astronaut(), (384, 384)), cv2.COLOR_RGB2BGR),
    )
    cv2.imwrite(str(folder / "coffee.png"), cv2.cvtColor(data.coffee(), cv2.COLOR_RGB2BGR))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (folder / "notes.txt").write_text("not an image, ignored")
    return folder


def test_bundled_photo_is_skimage_astronaut() -> None:
    assert np.array_equal(load_rgb(ASTRONAUT), data.astronaut())


def test_astronaut_is_happy(analyzer: FaceAnalyzer) -> None:
    faces = analyzer.analyze(data.astronaut())
    assert len(faces) == 1
    face = faces[0]
    assert _iou(face.box, ASTRONAUT_FACE) > 0.5
    assert face.label == "happy"
    assert sum(face.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
    assert face.confidence == max(face.probabilities.values())


def test_no_face_is_an_empty_result(analyzer: FaceAnalyzer) -> None:
    assert analyzer.analyze(data.coffee()) == []
    assert ferlab.analyze(data.coffee()) == []


def test_analyze_function_takes_arrays_and_paths(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    cv2.imwrite(str(path), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    from_path, from_array = ferlab.analyze(path), ferlab.analyze(data.astronaut())
    assert from_path == from_array
    assert from_path[0]["label"] == "happy"
    assert set(from_path[0]) == {"box", "score", "detector", "landmarks", "label", "probabilities"}
    assert from_path[0]["detector"] == DEFAULT_DETECTOR
    assert len(from_path[0]["landmarks"]) == {"yunet": 5, "blazeface": 6}[DEFAULT_DETECTOR]
    json.dumps(from_path)  # plain JSON types only


def test_analyze_missing_or_broken_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(FerlabError, match="missing.png: file not found"):
        ferlab.analyze(tmp_path / "missing.png")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"PNG? no")
    with pytest.raises(FerlabError, match="broken.png: not a readable image"):
        ferlab.analyze(broken)


@pytest.mark.parametrize("name", list_shipped())
def test_shipped_classifiers_speak_canonical_labels_and_are_deterministic(name: str) -> None:
    classifier = ExpressionClassifier.load(name)
    assert "happy" in classifier.classes and "happiness" not in classifier.classes
    crops = np.random.default_rng(0).integers(0, 256, (5, 48, 48), dtype=np.uint8)
    first, second = classifier.predict_proba(crops), classifier.predict_proba(crops)
    assert first.shape == (5, len(classifier.classes))
    assert np.array_equal(first, second)
    assert classifier.predict_proba(crops[:0]).shape == (0, len(classifier.classes))


def test_unknown_model_name_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="no shipped model named 'nope'"):
        ExpressionClassifier.load("nope")


def test_predict_folder_writes_everything_and_skips_the_broken_file(
    photo_folder: Path, tmp_path: Path, analyzer: FaceAnalyzer
) -> None:
    out = tmp_path / "out"
    seen: list[Path] = []
    report = predict_images(photo_folder, analyzer, out, save_crops=True, on_file=seen.append)
    assert len(seen) == 5  # every file is tried, the text file too
    assert sorted(image["file"] for image in report.images) == [
        "astronaut.jpg",
        "coffee.png",
        "sub/astronaut_small.png",
    ]
    assert [Path(p.path).name for p in report.problems] == ["broken.jpg", "notes.txt"]
    assert all(p.reason for p in report.problems)
    assert report.faces == 2 and report.no_face == ["coffee.png"]
    for name in ("astronaut.png", "coffee.png", "sub/astronaut_small.png"):
        assert (out / "annotated" / name).stat().st_size > 0
    table = pd.read_csv(out / "faces.csv")
    assert len(table) == 2 and set(table["label"]) == {"happy"}
    assert {"x1", "y1", "x2", "y2", "confidence", "p_happy", "p_neutral"} <= set(table.columns)
    saved = json.loads((out / "faces.json").read_text())
    assert saved["errors"][0]["file"].endswith("broken.jpg") and saved["no_face"] == ["coffee.png"]
    crops = sorted((out / "crops" / "happy").rglob("*.png"))
    assert [c.relative_to(out / "crops" / "happy").as_posix() for c in crops] == [
        "astronaut_face0.png",
        "sub/astronaut_small_face0.png",
    ]
    assert cv2.imread(str(crops[0])).shape[2] == 3


def test_annotated_image_shows_the_face(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    report = predict_images(ASTRONAUT, analyzer, tmp_path)
    annotated = load_rgb(tmp_path / "annotated" / "astronaut.png")
    x1, y1, x2, y2 = (int(v) for v in report.images[0]["faces"][0]["box"])
    changed = np.any(annotated != data.astronaut(), axis=2)
    assert changed[y1 : y2 + 1, x1 : x2 + 1].sum() > 0  # the box is drawn
    assert changed.mean() < 0.05  # and the rest of the photo is untouched


def test_cli_predict_json_and_exit_codes(photo_folder: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        app, ["predict", str(photo_folder / "astronaut.jpg"), "--out", str(tmp_path / "a"), "--json"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["images"][0]["faces"][0]["label"] == "happy"
    result = runner.invoke(app, ["predict", str(photo_folder), "--out", str(tmp_path / "b")])
    assert result.exit_code == 1  # some file skipped, the rest written
    assert "broken.jpg" in result.output and (tmp_path / "b" / "faces.csv").is_file()


def test_cli_predict_bad_input_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ferlab.cli import main

    (tmp_path / "empty").mkdir()
    for source, message in (
        (tmp_path / "missing.jpg", "missing.jpg: no such file or folder"),
        (tmp_path / "empty", "empty: the folder is empty"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(["predict", str(source), "--out", str(tmp_path / "out")])
        assert exit_info.value.code == 2
        error = capsys.readouterr().err
        assert message in error and "Traceback" not in error
    photo = tmp_path / "face.png"
    Image.fromarray(data.astronaut()).save(photo)
    predict = ["predict", str(photo), "--out", str(tmp_path / "out"), "--json", "--detector"]
    with pytest.raises(SystemExit) as exit_info:
        main([*predict, "opencv:min_neighbours=8"])
    error = capsys.readouterr().err
    assert exit_info.value.code == 2 and "Traceback" not in error
    assert "face detector 'opencv' has no option min_neighbours; its options:" in error
    with pytest.raises(SystemExit) as exit_info:
        main([*predict, "opencv:min_neighbors=60"])  # the option reaches Haar: it now finds no face
    assert exit_info.value.code == 0 and json.loads(capsys.readouterr().out)["images"][0]["faces"] == []


def test_cli_demo_says_happy(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert result.exit_code == 0, result.output
    assert "happy" in result.output
    assert (tmp_path / "demo" / "annotated" / "astronaut.png").stat().st_size > 0
