"""Issue #34: fuzzing the boundary with Hypothesis. Option values, config files, image arrays and file bytes
are generated; each input is either taken or refused with a one-line `FerlabError`, never a traceback, and a
job given bad files still accounts for every file. Examples are few and derandomized (the same every run), so
these tests are fast and cannot flake; ``@example`` keeps the inputs that failed before the fixes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ferlab.app import FaceAnalyzer
from ferlab.app.analyze import load_rgb
from ferlab.app.predict import predict_images
from ferlab.constraints import constraints_of
from ferlab.engine.config import TrainConfig, load_config
from ferlab.errors import FerlabError
from ferlab.serve.settings import ServeSettings

FUZZ = settings(
    max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NUMBERS = st.one_of(st.integers(-(2**40), 2**40), st.floats(allow_nan=True, allow_infinity=True))
VALUES = st.one_of(NUMBERS, st.text(max_size=12), st.booleans(), st.none())


def _one_line(error: BaseException) -> None:
    assert isinstance(error, FerlabError) and str(error) and "\n" not in str(error), repr(error)


@pytest.fixture(scope="module")
def analyzer() -> FaceAnalyzer:
    return FaceAnalyzer("opencv", "ferlab-ferplus")


@FUZZ
@given(name=st.sampled_from(sorted(constraints_of(TrainConfig))), value=VALUES)
@example(name="label_smoothing", value=2.0)
@example(name="warmup_epochs", value=float("nan"))
@example(name="lr", value=float("nan"))
def test_training_option_values(name: str, value: Any) -> None:
    try:
        load_config(**{name: value})
    except FerlabError as error:
        _one_line(error)


@FUZZ
@given(name=st.sampled_from(sorted(constraints_of(ServeSettings))), value=NUMBERS)
@example(name="port", value=70000)
def test_server_setting_values(name: str, value: Any) -> None:
    try:
        ServeSettings(**{name: value})
    except ValueError as error:
        _one_line(error)


YAML_TEXT = st.one_of(
    st.binary(max_size=64),
    st.dictionaries(st.sampled_from(["lr", "momentum", "epochs", "aug", "nope"]), VALUES, max_size=3).map(
        lambda d: "\n".join(f"{k}: {json.dumps(v) if v is not None else '~'}" for k, v in d.items()).encode()
    ),
    st.text(max_size=40).map(str.encode),
)


@FUZZ
@given(content=YAML_TEXT)
@example(content=b"lr: .nan\n")
@example(content=b"lr: 0.1\nlr: 0.2\n")
@example(content="lr: 0.1 # caf\u00e9\n".encode("latin-1"))
def test_config_files(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    try:
        load_config(path)
    except FerlabError as error:
        _one_line(error)


ARRAYS = hnp.arrays(
    dtype=st.sampled_from([np.uint8, np.float32, np.float64, np.int16, np.bool_]),
    shape=hnp.array_shapes(min_dims=1, max_dims=4, min_side=0, max_side=40),
    elements=None,
)


@FUZZ
@given(image=ARRAYS)
@example(image=np.zeros((100, 100, 1), np.uint8))
@example(image=np.zeros((100, 100)))
def test_image_arrays(analyzer: FaceAnalyzer, image: np.ndarray) -> None:
    try:
        faces = analyzer.analyze(image)
    except FerlabError as error:
        _one_line(error)
        return
    assert all(face.label in analyzer.classifier.classes for face in faces)
    if image.size and np.ptp(np.nan_to_num(image.astype(np.float64))) == 0:
        assert faces == []  # a blank image has no face


PNG_HEAD = b"\x89PNG\r\n\x1a\n"
FILE_BYTES = st.one_of(st.binary(max_size=200), st.binary(max_size=200).map(lambda b: PNG_HEAD + b))


@FUZZ
@given(contents=st.lists(FILE_BYTES, min_size=1, max_size=4))
def test_file_bytes_every_file_is_accounted_for(tmp_path_factory: pytest.TempPathFactory, analyzer, contents) -> None:
    folder = tmp_path_factory.mktemp("files")
    for i, content in enumerate(contents):
        (folder / f"{i}.png").write_bytes(content)
        try:
            load_rgb(folder / f"{i}.png")
        except FerlabError as error:
            _one_line(error)
    out = tmp_path_factory.mktemp("out")
    report = predict_images(folder, analyzer, out)
    saved = json.loads((out / "faces.json").read_text())
    listed = [image["file"] for image in saved["images"]] + [Path(e["file"]).name for e in saved["errors"]]
    assert sorted(listed) == sorted(f"{i}.png" for i in range(len(contents))) and report.files == len(contents)
