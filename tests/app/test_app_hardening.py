"""Issue #34, the application side: termination signals, unique crop names, a job that never reads its own
outputs, empty paths. Each test failed on the code before the fix."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from ferlab.app import FaceAnalyzer
from ferlab.app.analyze import load_rgb
from ferlab.app.predict import predict_images
from ferlab.cli import main
from ferlab.data.images import ImageWarning
from ferlab.errors import FerlabError


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer("opencv", "ferlab-ferplus")


def _save_faces(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(data.astronaut()).save(folder / name)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs a named pipe to hold the job at a known file")
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_termination_signal_writes_the_tables_of_the_images_done(tmp_path: Path, stop: signal.Signals) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    _save_faces(photos, "1.png", "2.png")
    pipe = photos / "3.pipe"
    os.mkfifo(pipe)  # sorted last: reading it blocks until the signal, whatever the machine's speed
    job = subprocess.Popen(
        [sys.executable, "-m", "ferlab", "predict", str(photos), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline, writer = time.monotonic() + 120, None
    while writer is None:  # opening the pipe's write end succeeds once the job has it open for reading
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        try:
            writer = os.open(pipe, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet, the job is still on the images before it
            time.sleep(0.05)
    try:  # both images are done; the job now waits for the pipe's bytes
        job.send_signal(stop)
        stdout, stderr = job.communicate(timeout=60)
    finally:
        os.close(writer)
    assert job.returncode == 128 + stop, stderr
    saved = json.loads((out / "faces.json").read_text())
    assert [image["file"] for image in saved["images"]] == ["1.png", "2.png"] and saved["interrupted"]
    assert len((out / "faces.csv").read_text().splitlines()) == 3  # header + one face per image
    assert "interrupted after 2 of 3 file(s)" in stdout and "Traceback" not in stderr


def test_crop_names_of_a_subfolder_and_a_look_alike_name_differ(tmp_path: Path, analyzer: FaceAnalyzer) -> None:
    photos, out = tmp_path / "photos", tmp_path / "out"
    _save_faces(photos, "sub1/a.png", "sub1__a.png")
    predict_images(photos, analyzer, out, save_crops=True)
    crops = sorted(p.relative_to(out / "crops").as_posix() for p in (out / "crops").rglob("*.png"))
    assert crops == ["happy/sub1/a_face0.png", "happy/sub1__a_face0.png"]


def test_predict_run_twice_in_place_never_reads_its_own_outputs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _save_faces(tmp_path, "a.png")
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        with pytest.raises(SystemExit) as exited:
            main(["predict", ".", "--json"])
        assert exited.value.code in (0, None)
        report = json.loads(capsys.readouterr().out)
        assert [image["file"] for image in report["images"]] == ["a.png"] and report["errors"] == []
    assert sorted(p.name for p in (tmp_path / "predictions" / "annotated").iterdir()) == ["a.png"]


@pytest.mark.parametrize("argv", [["predict", ""], ["predict", " "], ["predict", "x.png", "--out", ""]])
def test_an_empty_path_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    _save_faces(tmp_path, "x.png")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "an empty path" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "predictions").exists()


@pytest.mark.parametrize(
    "image",
    [
        np.zeros((100, 100, 1), np.uint8),
        np.zeros((100, 100), np.float64),
        np.full((100, 100, 4), 0.5, np.float32),
        np.full((60, 80, 3), 300.0),
        np.full((60, 80), np.nan),
        data.astronaut().astype(np.float32) / 255,
    ],
    ids=["uint8 1 channel", "float gray", "float RGBA", "float past 255", "NaN", "float RGB"],
)
def test_analyze_takes_2d_and_3d_uint8_or_float_arrays_with_1_3_or_4_channels(
    analyzer: FaceAnalyzer, image: np.ndarray
) -> None:
    faces = analyzer.analyze(image)
    assert all(face.label in analyzer.classifier.classes for face in faces)


def test_a_float_photo_is_analysed_as_its_uint8_original(analyzer: FaceAnalyzer) -> None:
    photo = data.astronaut()
    assert [f.to_dict() for f in analyzer.analyze(photo.astype(np.float32) / 255)] == [
        f.to_dict() for f in analyzer.analyze(photo)
    ]


@pytest.mark.parametrize(
    ("image", "problem"),
    [
        (np.zeros((10, 10, 2), np.uint8), r"shape \(10, 10, 2\): expected"),
        (np.zeros((2, 10, 10, 3), np.uint8), r"shape \(2, 10, 10, 3\): expected"),
        (np.zeros(10, np.uint8), r"shape \(10,\): expected"),
        (np.zeros((0, 10), np.uint8), r"shape \(0, 10\): it is empty"),
        (np.zeros((10, 10), np.int64), "dtype int64: expected uint8 or float"),
        (np.zeros((10, 10), bool), "dtype bool: expected uint8 or float"),
    ],
)
def test_other_arrays_are_refused_in_one_line(analyzer: FaceAnalyzer, image: np.ndarray, problem: str) -> None:
    with pytest.raises(ValueError, match=f"^image array of {problem}") as refused:
        analyzer.analyze(image)
    assert isinstance(refused.value, FerlabError) and "\n" not in str(refused.value)


def _noise(height: int, width: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "image",
    [np.zeros((1, 1, 3), np.uint8), np.zeros((100, 100)), np.full((181, 143, 3), 128, np.uint8), _noise(100, 100)],
    ids=["1x1 black", "100x100 zeros", "SFEW-sized gray", "noise"],
)
def test_no_face_no_label_for_blank_and_noise_images(analyzer: FaceAnalyzer, image: np.ndarray) -> None:
    assert analyzer.analyze(image) == []


def test_a_blank_first_page_is_no_face_and_the_pages_are_noted(
    tmp_path: Path, analyzer: FaceAnalyzer, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    blank, face = Image.new("RGB", (143, 181)), Image.fromarray(data.astronaut())
    blank.save(photos / "pages.tif", save_all=True, append_images=[face])
    with pytest.raises(SystemExit) as exited:
        main(["predict", str(photos), "--out", str(tmp_path / "out")])
    err = " ".join(capsys.readouterr().err.split())
    assert exited.value.code in (0, None)
    (record,) = json.loads((tmp_path / "out" / "faces.json").read_text())["images"]
    assert record["faces"] == [] and record["notes"] == ["2 pages or frames; only the first is read"]
    assert "note: pages.tif: 2 pages or frames; only the first is read" in err and "no face: pages.tif" in err


def test_pillow_warnings_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "corrupt_exif.jpg"
    Image.fromarray(data.astronaut()).save(path, exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x05\x00")
    with pytest.warns(ImageWarning, match=f"^{re.escape(str(path))}: Corrupt EXIF data"):
        load_rgb(path)


def test_eval_of_an_onnx_file_asks_for_the_onnx_backend_and_names_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "x.onnx"
    model.write_bytes(b"not read")
    for extra, message in (
        ([], "an ONNX file is scored on ONNX Runtime: add --backend onnx"),
        (["--backend", "onnx"], "not a readable ONNX model"),
    ):
        with pytest.raises(SystemExit) as exited:
            main(["eval", str(model), "--data", "folder", "--data-root", str(tmp_path), *extra])
        err = " ".join(capsys.readouterr().err.split())
        assert exited.value.code == 2 and message in err and str(model) in err, err
        assert err.startswith("error:") and "Traceback" not in err
