"""Issue #34, the application side: termination signals, unique crop names, a job that never reads its own
outputs, empty paths. Each test failed on the code before the fix."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from skimage import data

from ferlab.app import FaceAnalyzer
from ferlab.app.predict import predict_images
from ferlab.cli import main


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
    os.mkfifo(photos / "3.pipe")  # sorted last: reading it blocks until the signal, whatever the machine's speed
    job = subprocess.Popen(
        [sys.executable, "-m", "ferlab", "predict", str(photos), "--out", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while not (out / "annotated" / "2.png").is_file():  # both images done; the job now waits on the pipe
        assert job.poll() is None and time.monotonic() < deadline, job.communicate()
        time.sleep(0.05)
    job.send_signal(stop)
    stdout, stderr = job.communicate(timeout=60)
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
