"""`ferlab predict --json` on the bundled photo gives what it gave before the code was reorganised.

The expected files were written by `ferlab predict src/ferlab/assets/astronaut.png --json
--model M` (the default detector then, ``--detector opencv``, which the test now names) at commit
6df7bbd (before issue #21's model-registry and trainer changes; ferlab-wild's
when it was shipped, 2026-12-02); a change
of code that should not change behaviour must leave them valid. A deliberate change of the
shipped models or the pipeline rewrites them, and says so in its commit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

EXPECTED = Path(__file__).parent / "expected"
PHOTO = Path(__file__).resolve().parents[2] / "src" / "ferlab" / "assets" / "astronaut.png"


def assert_close(actual: Any, expected: Any, where: str = "") -> None:
    """Equal structure and text; numbers within 2e-5 (the JSON rounds probabilities to 5 places)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict) and actual.keys() == expected.keys(), where
        for key in expected:
            assert_close(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list) and len(actual) == len(expected), where
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{where}[{i}]")
    elif isinstance(expected, float):
        assert actual == pytest.approx(expected, abs=2e-5), where
    else:
        assert actual == expected, where


@pytest.mark.parametrize(
    ("model", "prior"),
    [("ferlab-wild", []), ("ferlab-ferplus", []), ("ferlab-fer2013", []), ("ferlab-wild", ["--prior", "data"])],
)
def test_predict_json_on_the_demo_photo_is_unchanged(model: str, prior: list[str], tmp_path: Path) -> None:
    """Also under ``--prior data`` said aloud: the data prior is today's behaviour (issue #31)."""
    command = ["predict", str(PHOTO), "--json", "--model", model, "--out", str(tmp_path), *prior]
    done = subprocess.run(
        [sys.executable, "-m", "ferlab", *command, "--detector", "opencv"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    expected = json.loads((EXPECTED / f"predict_astronaut_{model}.json").read_text())
    assert_close(json.loads(done.stdout), expected)
