"""Every file accounted for (issue #20): formats by content, broken links, no-face images, literal paths,
outputs that never collide, float images, Ctrl+C, face crops as input, and files that are not models."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from skimage import data

from ferlab.app import FaceAnalyzer
from ferlab.app.analyze import looks_like_crop
from ferlab.app.crop_classifier import CropClassifier
from ferlab.app.predict import predict_images
from ferlab.cli import main
from ferlab.data.images import read_image
from ferlab.faces import DEFAULT_DETECTOR, Detector, Face, align_face, get_detector
from ferlab.preprocess import CROP_MARGIN


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer("opencv", "ferlab-ferplus")


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    captured = capsys.readouterr()
    return exited.value.code, captured.out, captured.err


def test_formats_are_read_by_content_and_every_file_is_reported(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    face = Image.fromarray(data.astronaut())
    face.save(photos / "a.jfif", format="JPEG")
    face.save(photos / "b.AVIF", format="AVIF")
    face.save(photos / "c.tga", format="TGA")
    face.resize((256, 256)).save(photos / "d.ico", format="ICO", sizes=[(256, 256)])
    face.save(photos / "e.PPM", format="PPM")
    Image.fromarray(data.coffee()).save(photos / "coffee.png")
    (photos / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    (photos / "notes.txt").write_text("not an image")
    report = predict_images(photos, analyzer, tmp_path / "out")
    read = sorted(image["file"] for image in report.images)
    assert read == ["a.jfif", "b.AVIF", "c.tga", "coffee.png", "d.ico", "e.PPM"]
    assert all(image["faces"] for image in report.images if image["file"] != "coffee.png")
    assert report.no_face == ["coffee.png"]
    reasons = {Path(p.path).name: p.reason for p in report.problems}
    assert set(reasons) == {"dangling.jpg", "notes.txt"}
    assert "broken symbolic link" in reasons["dangling.jpg"] and reasons["notes.txt"]
    assert report.files == len(read) + len(reasons), "no file silently dropped"


def test_outputs_of_same_stem_images_never_collide(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(data.astronaut()).save(photos / "a.jpg")
    Image.fromarray(data.astronaut()[:, ::-1].copy()).save(photos / "a.png")
    report = predict_images(photos, analyzer, tmp_path / "out", save_crops=True)
    annotated = [image["annotated"] for image in report.images]
    assert annotated == ["annotated/a.png", "annotated/a~2.png"]
    assert all((tmp_path / "out" / name).is_file() for name in annotated)
    assert len(list((tmp_path / "out" / "crops").rglob("*.png"))) == 2


def test_paths_with_markup_print_literally(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "photos [bold]"
    (folder / "odd [").mkdir(parents=True)  # "odd [" + "/" + "] x.png": the path holds rich's "[/]"
    Image.fromarray(data.astronaut()).save(folder / "odd [" / "] x.png")
    (folder / "odd [" / "]bad.jpg").write_bytes(b"not a jpeg")
    code, out, err = _run(["predict", str(folder), "--out", str(tmp_path / "out [/]")], capsys)
    assert code == 1 and "Traceback" not in err
    flat_out, flat_err = " ".join(out.split()), " ".join(err.split())
    assert "odd [/] x.png" in flat_out and "out [/]" in flat_out
    assert "odd [/]bad.jpg" in flat_err


def test_float_images_are_scaled_not_clipped(tmp_path: Path) -> None:
    gradient = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    Image.fromarray(gradient, mode="F").save(tmp_path / "unit.tif")
    Image.fromarray(gradient * 255, mode="F").save(tmp_path / "byte.tif")
    unit, byte = read_image(tmp_path / "unit.tif"), read_image(tmp_path / "byte.tif")
    assert unit.max() == 255 and abs(int(unit.mean()) - 127) <= 1
    assert np.abs(unit.astype(int) - byte.astype(int)).max() <= 1


def _smooth_crop(height: int, width: int, low: int = 60) -> np.ndarray:
    """A left-to-right gray ramp from ``low`` to 220: contrast and structure, so the crop rule's gate passes it."""
    ramp = np.linspace(low, 220, width).round().astype(np.uint8)
    return np.repeat(np.tile(ramp, (height, 1))[..., None], 3, axis=2)


def test_detector_none_and_the_crop_rule(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    crop = _smooth_crop(181, 143)  # an SFEW-sized crop in which Haar finds nothing, not blank (see the gate)
    assert analyzer.detector.detect(crop) == [] and looks_like_crop(181, 143)
    (face,) = analyzer.analyze(crop)
    assert face.detector == "none" and face.box == (0.0, 0.0, 143.0, 181.0)
    no_rule = FaceAnalyzer("opencv", analyzer.classifier, crop_rule=False)
    assert no_rule.analyze(crop) == []
    assert not looks_like_crop(480, 640) and not looks_like_crop(300, 100)
    assert FaceAnalyzer(analyzer.detector, analyzer.classifier).analyze(np.full((480, 640, 3), 128, np.uint8)) == []
    (whole,) = FaceAnalyzer("none", analyzer.classifier).analyze(data.astronaut())
    assert whole.detector == "none" and whole.box == (0.0, 0.0, 512.0, 512.0)


class OneBox(Detector):
    """Finds one face with a fixed box."""

    name = "one-box"

    def __init__(self, box: tuple[float, float, float, float]) -> None:
        self.box = box

    def _detect(self, rgb: np.ndarray) -> list[Face]:
        return [Face(self.box, 0.9)]


def test_a_face_filling_a_crop_sized_image_is_the_crop(analyzer: FaceAnalyzer) -> None:
    """An SFEW-sized crop whose one face covers at least half of it is classified whole (``CROP_FACE_SHARE``);
    a smaller face, a larger image or no crop rule keep the detector's box."""
    crop = _smooth_crop(181, 143)
    half = (0.0, 0.0, 143.0, 90.5)  # 50% of the area
    (face,) = FaceAnalyzer(OneBox(half), analyzer.classifier).analyze(crop)
    assert face.detector == "none" and face.box == (0.0, 0.0, 143.0, 181.0)
    (face,) = FaceAnalyzer(OneBox((0.0, 0.0, 143.0, 90.0)), analyzer.classifier).analyze(crop)
    assert face.detector == "one-box" and face.box == (0.0, 0.0, 143.0, 90.0)
    (face,) = FaceAnalyzer(OneBox(half), analyzer.classifier, crop_rule=False).analyze(crop)
    assert face.detector == "one-box"
    (face,) = FaceAnalyzer(OneBox((0.0, 0.0, 500.0, 400.0)), analyzer.classifier).analyze(_smooth_crop(480, 640))
    assert face.detector == "one-box"


@pytest.mark.skipif(importlib.util.find_spec("yuface") is None, reason="yuface is not installed: pip install yuface")
def test_yunet_face_in_a_face_crop_gives_the_whole_crop(analyzer: FaceAnalyzer) -> None:
    """The astronaut's face cut out as tightly as SFEW's crops: YuNet finds it, its box covering 60% of the crop."""
    crop = np.ascontiguousarray(data.astronaut()[50:200, 160:290])  # 150x130
    (found,) = get_detector("yunet").detect(crop)
    (face,) = FaceAnalyzer("yunet", analyzer.classifier).analyze(crop)
    assert face.detector == "none" and face.label == "happy", found


class RecordingClassifier(CropClassifier):
    """Wraps a classifier and keeps the crops it was given."""

    backend = "onnx"

    def __init__(self, inner: CropClassifier) -> None:
        super().__init__(inner.classes, inner.name, inner.calibration, inner.preprocessing, inner.tta, inner.prior)
        self.inner, self.seen = inner, []

    def logits(self, crops: np.ndarray, batch_size: int) -> np.ndarray:
        self.seen.append(crops)
        return self.inner.logits(crops, batch_size)


@pytest.mark.parametrize("detector", ["none", "opencv"])  # --detector none, and the crop rule after Haar
def test_a_whole_image_face_is_the_crop_without_a_black_margin(analyzer: FaceAnalyzer, detector: str) -> None:
    crop = _smooth_crop(181, 143, low=100)
    recording = RecordingClassifier(analyzer.classifier)
    (face,) = FaceAnalyzer(detector, recording).analyze(crop)
    assert face.detector == "none" and (recording.seen[0] >= 100).all()  # stretched: no black margin or bars
    photo = data.astronaut()
    found = FaceAnalyzer("opencv", recording).analyze(photo)
    assert found[0].detector == "opencv"
    expected = align_face(photo, found[0].as_face(), (48, 48), True, CROP_MARGIN)  # detector boxes keep theirs
    assert np.array_equal(recording.seen[-1][0], expected)


def test_ctrl_c_writes_the_tables_of_the_images_done(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("1.png", "2.png", "3.png"):
        Image.fromarray(data.astronaut()).save(photos / name)

    def interrupt_after_two(path: Path) -> None:
        if path.name == "2.png":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as stopped:
        predict_images(photos, analyzer, tmp_path / "out", on_file=interrupt_after_two)
    assert stopped.value.report.interrupted
    saved = json.loads((tmp_path / "out" / "faces.json").read_text())
    assert [image["file"] for image in saved["images"]] == ["1.png", "2.png"] and saved["interrupted"]
    assert len((tmp_path / "out" / "faces.csv").read_text().splitlines()) == 3  # header + 2 faces


@pytest.mark.parametrize("content", [b"just text\n", os.urandom(512), "dict"])
@pytest.mark.parametrize("command", ["predict", "eval"])
def test_a_file_that_is_not_a_model_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: object, command: str
) -> None:
    import torch

    bad = tmp_path / "bad.pt"
    if content == "dict":
        torch.save({"format": "ferlab-model-v1", "weights": torch.zeros(2)}, bad)
    else:
        bad.write_bytes(content)
    args = (
        ["predict", str(tmp_path), "--model", str(bad), "--out", str(tmp_path / "o")]
        if command == "predict"
        else ["eval", str(bad), "--data", "folder", "--data-root", str(tmp_path)]
    )
    code, _, err = _run(args, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"not a ferlab model file: {bad}" in err and "weights_only" not in err


def test_malicious_pickle_is_refused_without_advice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, ("touch pwned",))

    bad = tmp_path / "evil.pt"
    bad.write_bytes(pickle.dumps(Evil()))
    code, _, err = _run(["predict", str(tmp_path), "--model", str(bad), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "not a ferlab model file" in err and "weights_only" not in err
    assert not (Path.cwd() / "pwned").exists()


TRAIN_ONLY = ("torch", "torchvision", "kornia", "torchmetrics", "tensorboard", "pandas", "matplotlib", "scipy", "yaml")
"""Modules only the ``[train]`` extra installs."""
BLOCK_TRAIN_ONLY = f"""
import sys
for name in {TRAIN_ONLY!r}:
    sys.modules[name] = None  # import fails, importlib.util.find_spec answers None: as if not installed
"""


def _without_torch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    """Run ``python args...`` with torch and the rest of `TRAIN_ONLY` unimportable (a sitecustomize blocks them)."""
    site = tmp_path / "site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCK_TRAIN_ONLY)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)


def test_api_and_cli_run_with_torch_unimportable(tmp_path: Path) -> None:
    for module in TRAIN_ONLY:
        check = _without_torch(tmp_path, "-c", f"import {module}")
        assert check.returncode != 0, f"the blocker works for {module}"
    api = _without_torch(
        tmp_path,
        "-c",
        "import ferlab, sys, json; from ferlab.app.demo import ASTRONAUT; "
        "faces = ferlab.analyze(ASTRONAUT); "
        f"assert not [m for m, v in sys.modules.items() if m.split('.')[0] in {TRAIN_ONLY!r} and v]; "
        "print(json.dumps(faces))",
    )
    assert api.returncode == 0, api.stderr
    assert json.loads(api.stdout)[0]["label"] == "happy"
    assert json.loads(api.stdout)[0]["detector"] == DEFAULT_DETECTOR  # the default detector, torch-free
    for argv in (["demo", "--out", "demo"], ["predict", "demo/annotated", "--detector", "none", "--out", "p"]):
        cli = _without_torch(tmp_path, "-m", "ferlab", *argv)
        assert cli.returncode == 0, cli.stderr
    assert "happy" in (tmp_path / "p" / "faces.csv").read_text()
    photo = cv2.imread(str(tmp_path / "demo" / "annotated" / "astronaut.png"))
    writer = cv2.VideoWriter(str(tmp_path / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 5.0, photo.shape[1::-1])
    for _ in range(3):
        writer.write(photo)
    writer.release()
    video = _without_torch(tmp_path, "-m", "ferlab", "video", "clip.mp4", "--out", "v")
    assert video.returncode == 0, video.stderr
    assert (tmp_path / "v" / "timeline.png").stat().st_size > 0
    assert "happy" in (tmp_path / "v" / "timeline.csv").read_text()
    for command in (["train"], ["eval", "x", "--data-root", "."], ["export", "x", "--onnx", "x.onnx"]):
        refused = _without_torch(tmp_path, "-m", "ferlab", *command)
        assert refused.returncode == 2 and 'pip install "ferlab[train]"' in refused.stderr
        assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
